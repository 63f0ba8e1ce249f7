// Package dist reads how a launcher started this process as one rank of a
// data-parallel job: torchrun's environment, or Slurm's with MASTER_ADDR and
// MASTER_PORT exported by the job script. Without either, a run is a single
// process and nothing about it changes.
package dist

import (
	"fmt"
	"strconv"
	"strings"
)

// Launch is this process's place in the job.
type Launch struct {
	Launcher   string // "torchrun" (or any launcher that sets RANK/WORLD_SIZE) or "slurm"
	Rank       int    // global rank
	World      int    // ranks in the job
	LocalRank  int    // rank on this machine: its GPU with runtime.device cuda
	LocalWorld int    // ranks on this machine
	Addr       string // the TCP store's host
	Port       int
	// AgentStore: torchrun's agent serves the store (static rendezvous,
	// TORCHELASTIC_USE_AGENT_STORE=True); every rank is then a client and
	// the keys of this attempt live under StorePrefix.
	AgentStore   bool
	RestartCount int // TORCHELASTIC_RESTART_COUNT: how many times torchrun restarted the workers
}

// FromEnv reads the launch from the environment (getenv is os.Getenv in
// production). It returns nil without an error for a single process: no
// RANK/WORLD_SIZE, and no Slurm job step of more than one task.
func FromEnv(getenv func(string) string) (*Launch, error) {
	num := func(name string, v string, lo int) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo {
			return 0, fmt.Errorf("%s=%q: want an integer >= %d", name, v, lo)
		}
		return n, nil
	}
	var l Launch
	var err error
	switch {
	case getenv("RANK") != "" || getenv("WORLD_SIZE") != "":
		l.Launcher = "torchrun"
		if l.Rank, err = num("RANK", getenv("RANK"), 0); err != nil {
			return nil, err
		}
		if l.World, err = num("WORLD_SIZE", getenv("WORLD_SIZE"), 1); err != nil {
			return nil, err
		}
		l.LocalRank, l.LocalWorld = 0, 1
		if v := getenv("LOCAL_RANK"); v != "" {
			if l.LocalRank, err = num("LOCAL_RANK", v, 0); err != nil {
				return nil, err
			}
		}
		if v := getenv("LOCAL_WORLD_SIZE"); v != "" {
			if l.LocalWorld, err = num("LOCAL_WORLD_SIZE", v, 1); err != nil {
				return nil, err
			}
		} else {
			l.LocalWorld = l.LocalRank + 1
		}
		l.AgentStore = strings.EqualFold(getenv("TORCHELASTIC_USE_AGENT_STORE"), "true")
		if v := getenv("TORCHELASTIC_RESTART_COUNT"); v != "" {
			if l.RestartCount, err = num("TORCHELASTIC_RESTART_COUNT", v, 0); err != nil {
				return nil, err
			}
		}
	case getenv("SLURM_NTASKS") != "" && getenv("SLURM_NTASKS") != "1":
		l.Launcher = "slurm"
		if l.World, err = num("SLURM_NTASKS", getenv("SLURM_NTASKS"), 1); err != nil {
			return nil, err
		}
		if getenv("SLURM_PROCID") == "" || getenv("MASTER_ADDR") == "" || getenv("MASTER_PORT") == "" {
			return nil, fmt.Errorf("a Slurm step of %d tasks needs SLURM_PROCID, and MASTER_ADDR and MASTER_PORT exported by the job script (see scripts/slurm-train.sh); for one process run with --ntasks 1", l.World)
		}
		if l.Rank, err = num("SLURM_PROCID", getenv("SLURM_PROCID"), 0); err != nil {
			return nil, err
		}
		if l.LocalRank, err = num("SLURM_LOCALID", getenv("SLURM_LOCALID"), 0); err != nil {
			return nil, err
		}
		l.LocalWorld = l.LocalRank + 1
		if v := getenv("SLURM_NTASKS_PER_NODE"); v != "" {
			// "4" or "4(x2)": the tasks on each node
			if n, err := strconv.Atoi(strings.SplitN(v, "(", 2)[0]); err == nil && n > l.LocalRank {
				l.LocalWorld = n
			}
		}
	default:
		return nil, nil
	}
	if l.Rank >= l.World {
		return nil, fmt.Errorf("rank %d of a job of %d ranks: the rank must be below the world size", l.Rank, l.World)
	}
	if l.LocalRank >= l.LocalWorld {
		return nil, fmt.Errorf("local rank %d of %d ranks on this machine: the local rank must be below their count", l.LocalRank, l.LocalWorld)
	}
	if l.Addr = getenv("MASTER_ADDR"); l.Addr == "" {
		return nil, fmt.Errorf("%s rank %d: MASTER_ADDR is not set (the address of rank 0's machine)", l.Launcher, l.Rank)
	}
	if l.Port, err = num("MASTER_PORT", getenv("MASTER_PORT"), 1); err != nil {
		return nil, err
	}
	if l.Port > 65535 {
		return nil, fmt.Errorf("MASTER_PORT=%d: want a TCP port (1-65535)", l.Port)
	}
	return &l, nil
}

// HostsStore reports whether this process serves the TCP store: rank 0,
// unless torchrun's agent already does.
func (l *Launch) HostsStore() bool { return !l.AgentStore && l.Rank == 0 }

// StorePrefix is where this attempt's keys live in the store: torchrun's
// agent store keeps each restart's workers apart under
// /worker/attempt_<restart count>, as PyTorch's own workers do.
func (l *Launch) StorePrefix() string {
	if !l.AgentStore {
		return ""
	}
	return fmt.Sprintf("/worker/attempt_%d", l.RestartCount)
}

// Device is the device this rank trains on: "cuda" becomes
// cuda:LOCAL_RANK (one process per GPU); any other name is kept as given.
func (l *Launch) Device(dev string) string {
	if dev == "cuda" {
		return fmt.Sprintf("cuda:%d", l.LocalRank)
	}
	return dev
}

// String says who this rank is, for the log.
func (l *Launch) String() string {
	return fmt.Sprintf("rank %d of %d (local %d of %d, %s, store %s:%d)", l.Rank, l.World, l.LocalRank, l.LocalWorld, l.Launcher, l.Addr, l.Port)
}

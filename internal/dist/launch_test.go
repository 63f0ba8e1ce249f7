package dist

import (
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestSingleProcess(t *testing.T) {
	for _, e := range []func(string) string{env(), env("SLURM_NTASKS", "1", "SLURM_PROCID", "0"), env("MASTER_ADDR", "h", "MASTER_PORT", "1")} {
		l, err := FromEnv(e)
		if l != nil || err != nil {
			t.Errorf("got %v, %v; want a single process", l, err)
		}
	}
}

func TestTorchrun(t *testing.T) {
	// What torchrun 1.13 gives a worker under a static rendezvous.
	l, err := FromEnv(env("RANK", "3", "LOCAL_RANK", "1", "WORLD_SIZE", "4", "LOCAL_WORLD_SIZE", "2",
		"MASTER_ADDR", "node0", "MASTER_PORT", "29500", "TORCHELASTIC_USE_AGENT_STORE", "True", "TORCHELASTIC_RESTART_COUNT", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Rank != 3 || l.World != 4 || l.LocalRank != 1 || l.LocalWorld != 2 || l.Addr != "node0" || l.Port != 29500 {
		t.Errorf("got %+v", l)
	}
	if l.HostsStore() || l.StorePrefix() != "/worker/attempt_2" {
		t.Errorf("agent store: hosts %v, prefix %q", l.HostsStore(), l.StorePrefix())
	}
	if l.Device("cuda") != "cuda:1" || l.Device("cpu") != "cpu" || l.Device("cuda:0") != "cuda:0" {
		t.Errorf("devices %s %s %s", l.Device("cuda"), l.Device("cpu"), l.Device("cuda:0"))
	}
	// --standalone: rank 0 serves the store, no prefix.
	l, err = FromEnv(env("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "1234", "TORCHELASTIC_USE_AGENT_STORE", "False"))
	if err != nil || !l.HostsStore() || l.StorePrefix() != "" {
		t.Errorf("standalone: %+v, %v", l, err)
	}
}

func TestSlurm(t *testing.T) {
	l, err := FromEnv(env("SLURM_NTASKS", "8", "SLURM_PROCID", "5", "SLURM_LOCALID", "1", "SLURM_NTASKS_PER_NODE", "4(x2)",
		"MASTER_ADDR", "n1", "MASTER_PORT", "29400"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Launcher != "slurm" || l.Rank != 5 || l.World != 8 || l.LocalRank != 1 || l.LocalWorld != 4 || !l.HostsStore() == (l.Rank == 0) {
		t.Errorf("got %+v", l)
	}
}

func TestBadEnv(t *testing.T) {
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env("RANK", "x", "WORLD_SIZE", "2"), `RANK="x"`},
		{env("RANK", "2", "WORLD_SIZE", "2", "MASTER_ADDR", "h", "MASTER_PORT", "1"), "below the world size"},
		{env("RANK", "0", "WORLD_SIZE", "2", "MASTER_PORT", "1"), "MASTER_ADDR is not set"},
		{env("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "h", "MASTER_PORT", "99999"), "MASTER_PORT=99999"},
		{env("SLURM_NTASKS", "2", "SLURM_PROCID", "0"), "MASTER_ADDR and MASTER_PORT exported by the job script"},
	} {
		_, err := FromEnv(c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

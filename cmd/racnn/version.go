package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/racnn/racnn/internal/torch"
)

// version is set at build time with -ldflags "-X main.version=..."; a plain
// build reports the module version or the VCS revision.
var version = ""

func racnnVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "+dirty"
			}
			return "dev-" + rev
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print racnn's version, libtorch's, and the devices it can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var devs []string
			var lt string
			var threads int
			if err := torch.Try(func() {
				lt = torch.Version()
				threads = torch.NumThreads()
				for _, d := range torch.Devices() {
					devs = append(devs, string(d))
				}
			}); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, _ := json.MarshalIndent(map[string]any{"racnn": racnnVersion(), "libtorch": lt, "devices": devs, "threads": threads}, "", "  ")
				fmt.Fprintln(out, string(b))
				return nil
			}
			fmt.Fprintf(out, "racnn    %s\nlibtorch %s\ndevices  %v\nthreads  %d (libtorch intra-op default)\n", racnnVersion(), lt, devs, threads)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

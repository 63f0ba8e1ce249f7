package evaluate

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// WriteTable prints m as the paper's table.
func (m Metrics) WriteTable(w io.Writer) {
	pct := func(v float64) string { return fmt.Sprintf("%6.2f %%", 100*v) }
	fmt.Fprintf(w, "%-22s %s\n", "images", fmt.Sprint(m.N))
	for k, a := range m.Scale {
		fmt.Fprintf(w, "%-22s %s\n", fmt.Sprintf("scale %d", k+1), pct(a))
	}
	if len(m.Scale) > 1 {
		fmt.Fprintf(w, "%-22s %s\n", "scales 1+2", pct(m.Scales12))
		fmt.Fprintf(w, "%-22s %s\n", fmt.Sprintf("scales %s (fused)", scaleList(len(m.Scale))), pct(m.Fused))
	}
	for k := range m.MeanIoU {
		fmt.Fprintf(w, "%-22s mean IoU %.3f, IoU>=0.5 %s, centre in box %s\n",
			fmt.Sprintf("box -> scale %d", k+2), m.MeanIoU[k], strings.TrimSpace(pct(m.IoU50[k])), strings.TrimSpace(pct(m.Pointing[k])))
		if k < len(m.Holds) {
			fmt.Fprintf(w, "%-22s holds the whole object %s; scale %d's errors with it held %s\n",
				"", strings.TrimSpace(pct(m.Holds[k])), k+2, strings.TrimSpace(pct(m.ErrorsHeld[k])))
		}
	}
}

func scaleList(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(s, "+")
}

// JSON renders m for --json.
func (m Metrics) JSON() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return b
}

// Summary is a one-line form of m for logs.
func (m Metrics) Summary() string {
	s := ""
	for k, a := range m.Scale {
		s += fmt.Sprintf("s%d %.2f%% ", k+1, 100*a)
	}
	if len(m.Scale) > 1 {
		s += fmt.Sprintf("s1+2 %.2f%% fused %.2f%%", 100*m.Scales12, 100*m.Fused)
	}
	for k := range m.Pointing {
		s += fmt.Sprintf(" | box%d IoU %.2f pointing %.0f%%", k+2, m.MeanIoU[k], 100*m.Pointing[k])
	}
	return s
}

// WriteComparison prints several runs' metrics side by side, one column per run.
func WriteComparison(w io.Writer, names []string, ms []Metrics) {
	width := 12
	for _, n := range names {
		width = max(width, len(filepath.Base(n))+2)
	}
	fmt.Fprintf(w, "%-22s", "")
	for _, n := range names {
		fmt.Fprintf(w, "%*s", width, filepath.Base(n))
	}
	fmt.Fprintln(w)
	row := func(label string, get func(m Metrics) (float64, bool), format string) {
		fmt.Fprintf(w, "%-22s", label)
		for _, m := range ms {
			if v, ok := get(m); ok {
				fmt.Fprintf(w, "%*s", width, fmt.Sprintf(format, v))
			} else {
				fmt.Fprintf(w, "%*s", width, "-")
			}
		}
		fmt.Fprintln(w)
	}
	scales := 0
	for _, m := range ms {
		scales = max(scales, len(m.Scale))
	}
	for k := 0; k < scales; k++ {
		row(fmt.Sprintf("scale %d", k+1), func(m Metrics) (float64, bool) {
			if k < len(m.Scale) {
				return 100 * m.Scale[k], true
			}
			return 0, false
		}, "%.2f %%")
	}
	multi := func(f func(Metrics) float64) func(Metrics) (float64, bool) {
		return func(m Metrics) (float64, bool) { return f(m), len(m.Scale) > 1 }
	}
	row("scales 1+2", multi(func(m Metrics) float64 { return 100 * m.Scales12 }), "%.2f %%")
	row("fused (1+2+3)", multi(func(m Metrics) float64 { return 100 * m.Fused }), "%.2f %%")
	for k := 0; k < scales-1; k++ {
		get := func(f func(Metrics) []float64) func(Metrics) (float64, bool) {
			return func(m Metrics) (float64, bool) {
				if v := f(m); k < len(v) {
					return v[k], true
				}
				return 0, false
			}
		}
		row(fmt.Sprintf("box %d mean IoU", k+2), get(func(m Metrics) []float64 { return m.MeanIoU }), "%.3f")
		percent := func(f func(Metrics) []float64) func(Metrics) []float64 {
			return func(m Metrics) []float64 {
				out := make([]float64, len(f(m)))
				for i, p := range f(m) {
					out[i] = 100 * p
				}
				return out
			}
		}
		row(fmt.Sprintf("box %d centre in obj.", k+2), get(percent(func(m Metrics) []float64 { return m.Pointing })), "%.1f %%")
		row(fmt.Sprintf("box %d holds obj.", k+2), get(percent(func(m Metrics) []float64 { return m.Holds })), "%.1f %%")
		row(fmt.Sprintf("s%d errors, obj. held", k+2), get(percent(func(m Metrics) []float64 { return m.ErrorsHeld })), "%.1f %%")
	}
}

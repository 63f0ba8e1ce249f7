package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/racnn/racnn/internal/atomicfile"
)

// EnvPrefix starts every environment variable that sets a key:
// RACNN_TRAIN_SEED sets train.seed.
const EnvPrefix = "RACNN"

// Load resolves a config from defaults < YAML file < RACNN_* environment <
// flags registered with AddFlags (only flags given on the command line
// count). file may be empty; fs may be nil.
func Load(file string, fs *pflag.FlagSet) (Config, error) {
	return load(Default(), file, fs)
}

// LoadResolved reads a run's resolved config (written by WriteFile) as the
// base, then applies the environment and flags over it: resuming a run keeps
// its settings unless told otherwise.
func LoadResolved(file string, fs *pflag.FlagSet) (Config, error) {
	base, err := readStrict(Default(), file)
	if err != nil {
		return Config{}, err
	}
	return load(base, "", fs)
}

func load(base Config, file string, fs *pflag.FlagSet) (Config, error) {
	v := viper.New()
	leaves := leafKeys(reflect.TypeOf(Config{}), "")
	flat := flatten(base)
	for _, k := range leaves {
		v.SetDefault(k, flat[k])
	}
	if file != "" {
		if err := checkFileKeys(file, leaves); err != nil {
			return Config{}, err
		}
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config %s: %v", file, oneLine(err))
		}
	}
	if err := checkEnv(leaves); err != nil {
		return Config{}, err
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if fs != nil {
		for _, k := range leaves {
			if f := fs.Lookup(k); f != nil {
				if err := v.BindPFlag(k, f); err != nil {
					return Config{}, err
				}
			}
		}
	}
	var c Config
	err := v.UnmarshalExact(&c, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(listHook)
	})
	if err != nil {
		where := "config"
		if file != "" {
			where = "config " + file
		}
		return Config{}, fmt.Errorf("%s: %s", where, decodeError(err))
	}
	if err := c.Validate(); err != nil {
		if file != "" {
			return Config{}, fmt.Errorf("%s (from %s, environment and flags)", err, file)
		}
		return Config{}, err
	}
	return c, nil
}

// AddFlags registers one flag per config key (--train.seed, --data.root, ...)
// whose default is the built-in default.
func AddFlags(fs *pflag.FlagSet) {
	flat := flatten(Default())
	for _, k := range leafKeys(reflect.TypeOf(Config{}), "") {
		usage := "config key " + k
		switch d := flat[k].(type) {
		case string:
			fs.String(k, d, usage)
		case int:
			fs.Int(k, d, usage)
		case uint64:
			fs.Uint64(k, d, usage)
		case float64:
			fs.Float64(k, d, usage)
		case bool:
			fs.Bool(k, d, usage)
		case []int:
			fs.Var(newIntsValue(d), k, usage)
		case []float64:
			fs.Var(newFloatsValue(d), k, usage)
		default:
			panic(fmt.Sprintf("config: no flag type for %s (%T)", k, d))
		}
		_ = fs.MarkHidden(k) // listed by `racnn train --help-config`, not in every --help
	}
}

// Keys lists every config key with its default, for --help-config.
func Keys() []string {
	flat := flatten(Default())
	var out []string
	for _, k := range leafKeys(reflect.TypeOf(Config{}), "") {
		out = append(out, fmt.Sprintf("%-32s %v", k, flat[k]))
	}
	return out
}

// YAML renders c as a YAML document.
func (c Config) YAML() ([]byte, error) { return yaml.Marshal(c) }

// WriteFile writes c's YAML to path atomically (temporary file, fsync, rename).
func (c Config) WriteFile(path string) error {
	b, err := c.YAML()
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, b)
}

// readStrict reads a YAML file over base with unknown keys rejected.
func readStrict(base Config, file string) (Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Config{}, fmt.Errorf("config: %v", err)
	}
	c, err := parseOver(base, b)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %s", file, err)
	}
	return c, nil
}

// FromYAML parses a resolved config (as written by YAML) exactly: no
// environment or flags apply. Checkpoints carry their config this way.
func FromYAML(b []byte) (Config, error) {
	c, err := parseOver(Default(), b)
	if err != nil {
		return Config{}, fmt.Errorf("config: %s", err)
	}
	return c, nil
}

func parseOver(base Config, b []byte) (Config, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	c := base
	if err := dec.Decode(&c); err != nil {
		return Config{}, errors.New(oneLine(err))
	}
	return c, c.Validate()
}

// checkFileKeys rejects keys the file sets that racnn does not know, naming
// the closest known key.
func checkFileKeys(file string, leaves []string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("config %s: no such file (see configs/ for examples)", file)
		}
		return fmt.Errorf("config %s: %v", file, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config %s: not valid YAML: %s", file, oneLine(err))
	}
	known := map[string]bool{}
	for _, k := range leaves {
		known[k] = true
		for p := k; strings.Contains(p, "."); {
			p = p[:strings.LastIndexByte(p, '.')]
			known[p+"."] = true
		}
	}
	var unknown []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			key := prefix + k
			if sub, ok := val.(map[string]any); ok && known[key+"."] {
				walk(key+".", sub)
				continue
			}
			if !known[key] {
				unknown = append(unknown, key)
			}
		}
	}
	walk("", m)
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	msg := fmt.Sprintf("config %s: unknown key %s", file, unknown[0])
	if s := closest(unknown[0], leaves); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	if len(unknown) > 1 {
		msg += fmt.Sprintf(" and %d more: %s", len(unknown)-1, strings.Join(unknown[1:], ", "))
	}
	return errors.New(msg)
}

// checkEnv rejects RACNN_* variables that name no key (a typo would
// otherwise be silently ignored). RACNN_TEST_* is left to the test suites.
func checkEnv(leaves []string) error {
	known := map[string]bool{}
	for _, k := range leaves {
		known[envName(k)] = true
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix+"_") || strings.HasPrefix(name, EnvPrefix+"_TEST_") || known[name] {
			continue
		}
		msg := fmt.Sprintf("environment: %s names no config key", name)
		var names []string
		for n := range known {
			names = append(names, n)
		}
		if s := closest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return errors.New(msg)
	}
	return nil
}

func envName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// leafKeys lists the dotted mapstructure keys of every leaf field of t.
func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafKeys(f.Type, prefix+tag+".")...)
		} else {
			out = append(out, prefix+tag)
		}
	}
	return out
}

// Differing returns the keys, among those given (a key ending in "." stands
// for every key under it), whose values differ between a and b, sorted.
func Differing(a, b Config, keys ...string) []string {
	fa, fb := flatten(a), flatten(b)
	var out []string
	for k, va := range fa {
		for _, want := range keys {
			if k == want || (strings.HasSuffix(want, ".") && strings.HasPrefix(k, want)) {
				if !reflect.DeepEqual(va, fb[k]) {
					out = append(out, k)
				}
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// Value returns the value of a leaf key ("train.seed"), for messages.
func (c Config) Value(key string) any { return flatten(c)[key] }

// flatten maps every leaf key of c to its value.
func flatten(c Config) map[string]any {
	out := map[string]any{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag := t.Field(i).Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			if v.Field(i).Kind() == reflect.Struct {
				walk(v.Field(i), prefix+tag+".")
			} else {
				out[prefix+tag] = v.Field(i).Interface()
			}
		}
	}
	walk(reflect.ValueOf(c), "")
	return out
}

var spaces = regexp.MustCompile(`\s+`)

// oneLine flattens a multi-line library error ("1 error(s) decoding:\n\n* ...").
func oneLine(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "\n*", ";")
	s = spaces.ReplaceAllString(s, " ")
	return strings.TrimSpace(s)
}

var decodeNoise = regexp.MustCompile(`^(decoding failed due to the following error\(s\):|\d+ error\(s\) decoding:)\s*;?\s*`)

func decodeError(err error) string {
	s := decodeNoise.ReplaceAllString(oneLine(err), "")
	return strings.TrimPrefix(s, "; ")
}

// closest returns the candidate with the smallest edit distance to s, if
// it is close enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

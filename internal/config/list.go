package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// A list key (model.input_sizes, data.mean) is spelled the same way in a
// flag, an environment variable and on --help-config: "112,64,64",
// "[112, 64, 64]" and "112 64 64" all mean the same list.

// splitList splits a list's text into its items: optional brackets, items
// separated by commas and/or white space.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func parseInts(s string) ([]int, error) {
	items := splitList(s)
	out := make([]int, 0, len(items))
	for _, it := range items {
		v, err := strconv.Atoi(it)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number (write a list as 112,64,64 or [112, 64, 64])", it)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloats(s string) ([]float64, error) {
	items := splitList(s)
	out := make([]float64, 0, len(items))
	for _, it := range items {
		v, err := strconv.ParseFloat(it, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a finite number (write a list as 0.5,0.5,0.5 or [0.5, 0.5, 0.5])", it)
		}
		out = append(out, v)
	}
	return out, nil
}

// listValue is the flag of a list key. Its type name is not one viper
// converts itself, so viper hands on the text and listHook parses it.
type listValue struct {
	text  string
	parse func(string) error
}

func (v *listValue) String() string { return v.text }
func (v *listValue) Type() string   { return "list" }
func (v *listValue) Set(s string) error {
	if err := v.parse(s); err != nil {
		return err
	}
	v.text = s
	return nil
}

func newIntsValue(def []int) *listValue {
	return &listValue{text: joinList(def), parse: func(s string) error { _, err := parseInts(s); return err }}
}

func newFloatsValue(def []float64) *listValue {
	return &listValue{text: joinList(def), parse: func(s string) error { _, err := parseFloats(s); return err }}
}

func joinList[T any](vs []T) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// listHook decodes a string (a flag's or an environment variable's) into an
// []int or []float64 field in any of the list spellings.
func listHook(from, to reflect.Type, data any) (any, error) {
	s, ok := data.(string)
	if !ok || from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	switch to.Elem().Kind() {
	case reflect.Int:
		return parseInts(s)
	case reflect.Float64:
		return parseFloats(s)
	}
	return data, nil
}

var _ mapstructure.DecodeHookFuncType = listHook

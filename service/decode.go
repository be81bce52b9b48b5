package service

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// decoder fills the types of types.go from the tree, field by field, by
// their json tags. A value of the wrong type is an error naming the path
// and the expected type; decoding goes on so every error is reported at
// once. Unknown keys are warnings. null is the same as an absent key.
type decoder struct {
	diags *diagnostics
	// seen holds the paths that were present with a usable value, bad the
	// paths that were present with a wrong one; the validator uses both to
	// tell "absent" from "given" and to avoid a second error on a bad field.
	seen map[string]bool
	bad  map[string]bool
}

var intOrPercentType = reflect.TypeFor[IntOrPercent]()

func (d *decoder) decodeRoot(n *node, s *Service) {
	if n.kind != kindObject {
		d.diags.errorf(rootPath, "expected a JSON object {...} holding metadata and containers, got %s", n.describe())
		d.bad[rootPath] = true
		return
	}
	d.decode(n, reflect.ValueOf(s).Elem(), rootPath)
}

func (d *decoder) wrongType(p string, n *node, want, hint string) {
	d.bad[p] = true
	msg := "expected " + want + ", got " + n.describe()
	if hint != "" {
		msg += "; " + hint
	}
	d.diags.errorf(p, "%s", msg)
}

func (d *decoder) decode(n *node, v reflect.Value, p string) {
	d.diags.noteWritten(p, n)
	t := v.Type()
	if t == intOrPercentType {
		d.intOrPercent(n, v, p)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if n.kind != kindObject {
			d.wrongType(p, n, "a JSON object {...}", "")
			return
		}
		ptr := reflect.New(t.Elem())
		d.decode(n, ptr.Elem(), p)
		v.Set(ptr)
	case reflect.Struct:
		if n.kind != kindObject {
			d.wrongType(p, n, "a JSON object {...}", "")
			return
		}
		d.seen[p] = true
		fields := fieldsOf(t)
		for _, m := range n.members {
			fp := fieldPath(p, m.key)
			i, ok := fields.index[m.key]
			if !ok {
				if w := writtenAt(m.val); w != rootPath && w != fp {
					d.diags.noteWritten(fp, &node{path: w})
				}
				d.unknown(fp, m.key, fields.names)
				continue
			}
			if m.val.kind == kindNull {
				continue
			}
			d.decode(m.val, v.Field(i), fp)
		}
	case reflect.Slice:
		if n.kind != kindArray {
			hint := ""
			if n.kind == kindObject {
				hint = "wrap it in [ ] to make a list of one"
			}
			d.wrongType(p, n, "an array [...]", hint)
			return
		}
		d.seen[p] = true
		if len(n.items) == 0 {
			return // nil, not empty: the same after a round trip through omitempty
		}
		s := reflect.MakeSlice(t, len(n.items), len(n.items))
		for i, item := range n.items {
			ip := indexPath(p, i)
			if item.kind == kindNull {
				d.wrongType(ip, item, expectedName(t.Elem()), "remove it")
				continue
			}
			d.decode(item, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.String:
		if n.kind != kindString {
			hint := ""
			if n.kind == kindNumber || n.kind == kindBool {
				hint = "put it in quotes"
			}
			d.wrongType(p, n, "a string", hint)
			return
		}
		d.seen[p] = true
		v.SetString(n.str)
	case reflect.Int:
		i, ok := d.integer(n, p)
		if ok {
			d.seen[p] = true
			v.SetInt(i)
		}
	case reflect.Bool:
		if n.kind != kindBool {
			hint := ""
			if n.kind == kindString && (n.str == "true" || n.str == "false") {
				hint = "write " + n.str + " without quotes"
			}
			d.wrongType(p, n, "true or false", hint)
			return
		}
		d.seen[p] = true
		v.SetBool(n.b)
	case reflect.Interface:
		// Fields easlocal accepts without reading their shape: any JSON value.
		d.seen[p] = true
		v.Set(reflect.ValueOf(toAny(n)))
	case reflect.Map:
		if n.kind != kindObject {
			d.wrongType(p, n, "a JSON object {...}", "")
			return
		}
		d.seen[p] = true
		if len(n.members) == 0 {
			return
		}
		v.Set(reflect.ValueOf(toAny(n)))
	default:
		// Only reached if types.go gains a field of a kind not handled above.
		d.diags.errorf(p, "easlocal cannot read fields of Go type %s yet; this is a bug in easlocal, please report it", t)
		d.bad[p] = true
	}
}

// integer reads a whole number. 1e3 and 2.0 are accepted (they are whole),
// 1.5 and numbers past the range of int64 are not.
func (d *decoder) integer(n *node, p string) (int64, bool) {
	if n.kind != kindNumber {
		hint := ""
		if n.kind == kindString {
			if _, err := strconv.ParseInt(strings.TrimSpace(n.str), 10, 64); err == nil {
				hint = "write " + strings.TrimSpace(n.str) + " without quotes"
			}
		}
		d.wrongType(p, n, "a whole number", hint)
		return 0, false
	}
	if i, err := strconv.ParseInt(n.str, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(n.str, 64)
	if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	d.bad[p] = true
	if err != nil || f == math.Trunc(f) {
		d.diags.errorf(p, "%s is out of range; use a much smaller whole number", n.str)
	} else {
		d.diags.errorf(p, "expected a whole number, got %s; use a number without a fractional part", n.str)
	}
	return 0, false
}

// intOrPercent stores a number as its decimal text and a string as is; the
// validator checks that strings are percentages.
func (d *decoder) intOrPercent(n *node, v reflect.Value, p string) {
	switch n.kind {
	case kindNumber:
		i, ok := d.integer(n, p)
		if !ok {
			return
		}
		v.SetString(strconv.FormatInt(i, 10))
	case kindString:
		// A numeric string is the number: "1" and 1 must give the same value
		// so the --json output (which writes numbers) reads back the same.
		if i, err := strconv.ParseInt(n.str, 10, 64); err == nil {
			v.SetString(strconv.FormatInt(i, 10))
		} else {
			v.SetString(n.str)
		}
	default:
		d.wrongType(p, n, `a whole number or a percentage string like "25%"`, "")
		return
	}
	d.seen[p] = true
}

// unknown warns about a key the model does not have, suggesting the
// closest known key of the same object.
func (d *decoder) unknown(p, key string, known []string) {
	msg := "unknown field, ignored by easlocal"
	if s, why := suggest(key, known); s != "" {
		msg += "; did you mean \"" + s + "\"?"
		if why != "" {
			msg += " (" + why + ")"
		}
	} else {
		msg += "; remove it or check the spelling against the EAS JSON deployment parameters"
	}
	d.diags.warnf(p, "%s", msg)
}

func expectedName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array [...]"
	default:
		return "a JSON object {...}"
	}
}

// toAny converts a subtree for the map[string]any fields that easlocal
// echoes without reading. Numbers stay json.Number-like text so they are
// written back exactly as given.
func toAny(n *node) any {
	switch n.kind {
	case kindBool:
		return n.b
	case kindNumber:
		return json.Number(n.str)
	case kindString:
		return n.str
	case kindArray:
		a := make([]any, len(n.items))
		for i, item := range n.items {
			a[i] = toAny(item)
		}
		return a
	case kindObject:
		m := make(map[string]any, len(n.members))
		for _, mem := range n.members {
			m[mem.key] = toAny(mem.val)
		}
		return m
	default:
		return nil
	}
}

type structFields struct {
	index map[string]int // json name -> field index
	names []string       // json names, in declaration order
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		f.index[name] = i
		f.names = append(f.names, name)
	}
	fieldCache.Store(t, f)
	return f
}

package service

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Key normalisation, as EAS does it before reading a service.json:
//
//   - A dotted key inside an object is the nested key: "metadata":
//     {"eas.termination_grace_period": 30} is metadata.eas.
//     termination_grace_period. Only objects the model reads as structs are
//     expanded; the keys of labels, features and other echoed maps keep
//     their dots ("eas.aliyun.com/extra-ephemeral-storage").
//   - The documented aliases name the same field as the model's key
//     (fieldAliases). The model keeps one spelling, the one the EAS JSON
//     deployment page uses, and the alias's value is moved there.
//
// Both spellings with the same value are one field; with different values
// it is an error naming both paths as the user wrote them. Moved values
// keep the path they were written at (node.path), so every later
// diagnostic about them names what the user wrote.

// fieldAliases maps an alias path to the model path it is the same field
// as. The aliases are EAS's key registry (primary and alias keys of each
// field); the model's spelling is the documented one.
var fieldAliases = []struct{ from, to string }{
	{"name", "metadata.name"},
	{"credential.token", "token"},
	{"credential.docker_auth", "dockerAuth"},
	{"rpc", "metadata.rpc"}, // rpc.keepalive, rpc.worker_threads, rpc.enable_sigterm, ...
	{"metadata.workers", "metadata.rpc.worker_threads"},
	{"metadata.worker_threads", "metadata.rpc.worker_threads"},
	{"metadata.io_threads", "metadata.rpc.io_threads"},
	{"metadata.max_queue_size", "metadata.rpc.max_queue_size"},
	{"runtime.termination_grace_period", "metadata.eas.termination_grace_period"},
	{"runtime.cuda", "metadata.cuda"},
	{"networking.enable_grpc", "metadata.enable_grpc"},
	{"metadata.gateway", "networking.gateway"},
	{"metadata.enable_https", "networking.enable_https"},
	{"metadata.enable_http2", "networking.enable_http2"},
	{"metadata.disable_internet_endpoint", "networking.disable_internet_endpoint"},
	{"metadata.autoscaler", "autoscaler"},
	{"metadata.cronscaler", "cronscaler"},
}

// keyAliases are aliases within one kind of object, wherever it is.
var keyAliases = map[reflect.Type]map[string]string{
	// Third-party EAS guides write the readiness probe readiness_check;
	// the PAI SDK and the model call it health_check.
	reflect.TypeFor[Container](): {"readiness_check": "health_check"},
}

// aliasOnlyObjects are the types of top-level objects that exist only as
// alias sources, so their dotted keys expand too.
var aliasOnlyObjects = map[string]reflect.Type{
	"rpc":        reflect.TypeFor[RPC](),
	"credential": reflect.TypeFor[credential](),
}

// credential is the K-style spelling of token and dockerAuth.
type credential struct {
	Token      string `json:"token"`
	DockerAuth string `json:"docker_auth"`
}

var serviceType = reflect.TypeFor[Service]()

// normalizeKeys expands dotted keys and applies the aliases on the tree of
// the whole document.
func normalizeKeys(root *node, d *diagnostics) {
	expandDots(root, serviceType, d)
	for _, a := range fieldAliases {
		from := strings.Split(a.from, ".")
		parent := lookup(root, from[:len(from)-1])
		if parent == nil {
			continue
		}
		i := slices.IndexFunc(parent.members, func(m member) bool { return m.key == from[len(from)-1] })
		if i < 0 {
			continue
		}
		m := parent.members[i]
		parent.members = slices.Delete(parent.members, i, i+1)
		if len(parent.members) == 0 && len(from) > 1 {
			// "runtime": {"termination_grace_period": 20} leaves no empty
			// "runtime": {} behind.
			if gp := lookup(root, from[:len(from)-2]); gp != nil {
				gp.members = slices.DeleteFunc(gp.members, func(g member) bool { return g.val == parent })
			}
		}
		if m.val.kind == kindNull {
			continue
		}
		to := strings.Split(a.to, ".")
		dst := ensureObject(root, to[:len(to)-1], d)
		if dst == nil {
			continue
		}
		mergeMember(dst, member{key: to[len(to)-1], val: m.val}, d)
	}
	// An alias-only object emptied by the moves is gone; what is left in
	// one is reported as unknown.
	root.members = slices.DeleteFunc(root.members, func(m member) bool {
		_, aliasOnly := aliasOnlyObjects[m.key]
		return aliasOnly && m.val.kind == kindObject && len(m.val.members) == 0
	})
}

// expandDots rewrites, in every object read as a struct of type t (and
// below), a key "a.b" into "a": {"b": ...}, merged with an "a" already
// there.
func expandDots(n *node, t reflect.Type, d *diagnostics) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.kind == kindArray && t.Kind() == reflect.Slice:
		for _, item := range n.items {
			expandDots(item, t.Elem(), d)
		}
		return
	case n.kind != kindObject || t.Kind() != reflect.Struct:
		return
	}
	fields := fieldsOf(t)
	members := n.members
	n.members = nil
	for _, m := range members {
		if to, ok := keyAliases[t][m.key]; ok {
			if j := slices.IndexFunc(members, func(o member) bool { return o.key == to }); j >= 0 {
				// Two whole objects for one field are not merged: keep the
				// model's spelling.
				if !sameValue(members[j].val, m.val) {
					d.errorAt(writtenAt(m.val), "is the same field as %s, and they differ; keep one of them", writtenAt(members[j].val))
				}
				continue
			}
			m.key = to
		}
		head, rest, dotted := strings.Cut(m.key, ".")
		if _, known := fields.index[m.key]; known || !dotted || head == "" || rest == "" {
			mergeMember(n, m, d)
			continue
		}
		inner := &node{kind: kindObject, line: m.val.line, members: []member{{key: rest, val: m.val}}}
		mergeMember(n, member{key: head, val: inner}, d)
	}
	for _, m := range n.members {
		if ft, ok := childType(t, fields, m.key); ok {
			expandDots(m.val, ft, d)
		}
	}
}

func childType(t reflect.Type, fields *structFields, key string) (reflect.Type, bool) {
	if i, ok := fields.index[key]; ok {
		return t.Field(i).Type, true
	}
	if t == serviceType {
		ft, ok := aliasOnlyObjects[key]
		return ft, ok
	}
	return nil, false
}

// lookup walks object keys from n; nil when a step is missing or not an
// object.
func lookup(n *node, keys []string) *node {
	for _, k := range keys {
		if n == nil || n.kind != kindObject {
			return nil
		}
		var next *node
		for _, m := range n.members {
			if m.key == k {
				next = m.val
			}
		}
		n = next
	}
	if n == nil || n.kind != kindObject {
		return nil
	}
	return n
}

// ensureObject returns the object at keys below root, creating empty
// ones on the way; nil (with an error) when a step holds something else.
func ensureObject(root *node, keys []string, d *diagnostics) *node {
	n := root
	for _, k := range keys {
		var next *node
		for _, m := range n.members {
			if m.key == k {
				next = m.val
			}
		}
		if next == nil || next.kind == kindNull {
			next = &node{kind: kindObject}
			n.members = slices.DeleteFunc(n.members, func(m member) bool { return m.key == k })
			n.members = append(n.members, member{key: k, val: next})
		}
		if next.kind != kindObject {
			return nil // the decoder reports the wrong type at that path
		}
		n = next
	}
	return n
}

// mergeMember adds m to the object dst. Two objects under one key merge;
// two equal values are one; anything else is a conflict.
func mergeMember(dst *node, m member, d *diagnostics) {
	i := slices.IndexFunc(dst.members, func(e member) bool { return e.key == m.key })
	if i < 0 {
		dst.members = append(dst.members, m)
		return
	}
	old := dst.members[i].val
	switch {
	case old.kind == kindNull:
		dst.members[i].val = m.val
	case m.val.kind == kindNull, sameValue(old, m.val):
	case old.kind == kindObject && m.val.kind == kindObject:
		for _, c := range m.val.members {
			mergeMember(old, c, d)
		}
	default:
		a, b := writtenAt(old), writtenAt(m.val)
		d.errorAt(a, "is the same field as %s, and they have different values (%s and %s); keep one of them", b, old.describe(), m.val.describe())
	}
}

// writtenAt names where a value was written; an object made by
// normalisation is named by its first written member.
func writtenAt(n *node) string {
	for n.path == "" && n.kind == kindObject && len(n.members) > 0 {
		n = n.members[0].val
	}
	if n.path == "" {
		return rootPath
	}
	return n.path
}

// sameValue compares two JSON values; numbers by value (5000 = 5e3).
func sameValue(a, b *node) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindNull:
		return true
	case kindBool:
		return a.b == b.b
	case kindString:
		return a.str == b.str
	case kindNumber:
		if a.str == b.str {
			return true
		}
		x, err1 := strconv.ParseFloat(a.str, 64)
		y, err2 := strconv.ParseFloat(b.str, 64)
		return err1 == nil && err2 == nil && x == y
	case kindArray:
		return slices.EqualFunc(a.items, b.items, sameValue)
	default:
		if len(a.members) != len(b.members) {
			return false
		}
		for _, ma := range a.members {
			i := slices.IndexFunc(b.members, func(mb member) bool { return mb.key == ma.key })
			if i < 0 || !sameValue(ma.val, b.members[i].val) {
				return false
			}
		}
		return true
	}
}

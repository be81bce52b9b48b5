package service

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The parser reads service.json in two steps: the bytes become a tree of
// nodes (this file), then the tree is decoded into Service (decode.go).
// encoding/json alone cannot do the job: it keeps the last of two equal keys
// without a word, stops at the first wrong type, and does not say where
// things are.

type nodeKind int

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// node is one JSON value. Numbers keep their literal text in str.
type node struct {
	kind    nodeKind
	str     string
	b       bool
	items   []*node
	members []member
	line    int
	// path is where the user wrote the value (fieldPath form), so
	// diagnostics about a moved or expanded value name what the user
	// wrote; "" for objects made by key normalisation and past
	// maxPathDepth.
	path string
}

// member is one key of an object. When a key appears twice only the last
// value is kept (as encoding/json does), after an error has been reported.
type member struct {
	key string
	val *node
}

func (n *node) describe() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return strconv.FormatBool(n.b)
	case kindNumber:
		return "the number " + n.str
	case kindString:
		s := n.str
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return "the string " + strconv.Quote(s)
	case kindArray:
		return "an array"
	default:
		return "an object"
	}
}

// lineIndex turns byte offsets into 1-based line and column numbers
// (columns count characters, not bytes).
type lineIndex struct {
	data  []byte
	start []int // offset of the first byte of each line
}

func newLineIndex(data []byte) *lineIndex {
	li := &lineIndex{data: data, start: []int{0}}
	for i, c := range data {
		if c == '\n' {
			li.start = append(li.start, i+1)
		}
	}
	return li
}

// line is the 1-based line of a byte offset; it is cheap (a binary search)
// because the tree builder asks it for every key.
func (li *lineIndex) line(off int) int {
	off = max(0, min(off, len(li.data)))
	lo, hi := 0, len(li.start)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.start[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// position adds the column; it counts the characters of the line, so it
// is only used for the one syntax error.
func (li *lineIndex) position(off int) (line, col int) {
	off = max(0, min(off, len(li.data)))
	line = li.line(off)
	return line, utf8.RuneCount(li.data[li.start[line-1]:off]) + 1
}

// treeBuilder walks json.Decoder tokens. path is where the walk currently
// is, so a syntax error can name the field it happened in.
type treeBuilder struct {
	dec   *json.Decoder
	lines *lineIndex
	diags *diagnostics
	path  string
	// errPath is where the walk was when the decoder first failed.
	errPath string
	// depth counts open arrays and objects. Paths stop growing past
	// maxPathDepth (no one reads a longer one, and building them would be
	// quadratic in the nesting), and the walk stops past maxDepth.
	depth int
}

// errTooDeep stops the walk of a document nested past maxDepth. A
// service.json needs about six levels; the cap keeps hostile input cheap
// and the indented --json output of an echoed map within a small factor
// of its input.
var errTooDeep = errors.New("nested too deeply")

const (
	maxPathDepth = 32
	maxDepth     = 100
)

// enter opens an array or object; the returned function closes it.
func (b *treeBuilder) enter() (restore func(), err error) {
	parent := b.path
	b.depth++
	if b.depth > maxDepth {
		return nil, b.fail(errTooDeep)
	}
	return func() { b.path = parent; b.depth-- }, nil
}

func (b *treeBuilder) child(p string) {
	if b.depth <= maxPathDepth {
		b.path = p
	}
}

func (b *treeBuilder) fail(err error) error {
	if b.errPath == "" {
		b.errPath = b.path
	}
	return err
}

// parseTree checks the syntax and builds the tree. On a syntax error it
// reports one error (nothing after it can be trusted) and returns nil.
func parseTree(data []byte, diags *diagnostics) *node {
	lines := newLineIndex(data)
	if len(bytes.TrimSpace(data)) == 0 {
		diags.errorf(rootPath, "the file is empty; a service.json is a JSON object such as {\"metadata\": {\"name\": \"my_service\"}, \"containers\": [{\"image\": \"...\"}]}")
		return nil
	}
	// json.Unmarshal checks the whole input with a fresh scanner, so its
	// SyntaxError offset is exact; the token walk below only knows the path.
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			diags.errorf(rootPath, "cannot read the JSON: %v", err)
			return nil
		}
		b := &treeBuilder{dec: newTokenDecoder(data), lines: lines, diags: &diagnostics{}, path: rootPath}
		b.value() // walk as far as possible to learn the path of the error
		off := int(se.Offset) - 1
		line, col := lines.position(off)
		msg := se.Error()
		hint := "fix the JSON syntax"
		switch {
		case se.Offset >= int64(len(data)):
			line, col = lines.position(len(bytes.TrimRight(data, " \t\r\n")))
			msg = "the file ends in the middle of a value"
			hint = "close every { and [ and every string"
		case strings.HasSuffix(msg, "after top-level value"):
			hint = "remove what follows the closing } of the service, or wrap several values in one object"
		case strings.HasSuffix(msg, "after object key:value pair"):
			hint = "a comma is probably missing between two fields"
		case strings.HasSuffix(msg, "after array element"):
			hint = "a comma is probably missing between two elements"
		case strings.HasPrefix(msg, "invalid character '}'") || strings.HasPrefix(msg, "invalid character ']'"):
			hint = "remove the comma before it: JSON allows no trailing comma"
		case strings.HasPrefix(msg, `invalid character '\''`):
			hint = "JSON strings and keys use double quotes"
		}
		diags.errorf(cmp.Or(b.errPath, rootPath), "invalid JSON at line %d, column %d: %s; %s", line, col, msg, hint)
		return nil
	}
	b := &treeBuilder{dec: newTokenDecoder(data), lines: lines, diags: diags, path: rootPath}
	n, err := b.value()
	switch {
	case errors.Is(err, errTooDeep):
		diags.errorf(b.errPath, "nested more than %d levels deep; a service.json needs only a few levels: simplify this value", maxDepth)
		return nil
	case err != nil:
		// Cannot happen after a successful Unmarshal; say so rather than panic.
		diags.errorf(rootPath, "cannot read the JSON: %v", err)
		return nil
	}
	return n
}

func newTokenDecoder(data []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec
}

func (b *treeBuilder) line() int {
	return b.lines.line(int(b.dec.InputOffset()) - 1)
}

func (b *treeBuilder) value() (*node, error) {
	tok, err := b.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, b.fail(err)
	}
	n := &node{line: b.line()}
	if b.depth < maxPathDepth {
		n.path = b.path
	}
	switch t := tok.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.b = kindBool, t
	case json.Number:
		n.kind, n.str = kindNumber, string(t)
	case string:
		n.kind, n.str = kindString, t
	case json.Delim:
		switch t {
		case '[':
			n.kind = kindArray
			return n, b.array(n)
		case '{':
			n.kind = kindObject
			return n, b.object(n)
		}
		return nil, b.fail(fmt.Errorf("unexpected %q", t))
	}
	return n, nil
}

func (b *treeBuilder) array(n *node) error {
	parent := b.path
	restore, err := b.enter()
	if err != nil {
		return err
	}
	for i := 0; b.dec.More(); i++ {
		b.child(indexPath(parent, i))
		item, err := b.value()
		if err != nil {
			return err
		}
		n.items = append(n.items, item)
	}
	if _, err := b.dec.Token(); err != nil { // ']'
		return b.fail(err)
	}
	restore()
	return nil
}

func (b *treeBuilder) object(n *node) error {
	parent := b.path
	restore, err := b.enter()
	if err != nil {
		return err
	}
	firstLine := map[string]int{}
	index := map[string]int{}
	for b.dec.More() {
		tok, err := b.dec.Token()
		if err != nil {
			return b.fail(err)
		}
		key, _ := tok.(string)
		keyLine := b.line()
		b.child(fieldPath(parent, key))
		val, err := b.value()
		if err != nil {
			return err
		}
		if i, dup := index[key]; dup {
			where := fmt.Sprintf("lines %d and %d", firstLine[key], keyLine)
			if firstLine[key] == keyLine {
				where = fmt.Sprintf("both on line %d", keyLine)
			}
			b.diags.errorf(b.path, "appears twice in the same object (%s); JSON readers keep only the last one, so EAS would silently ignore the first: delete one of them", where)
			n.members[i].val = val
			continue
		}
		index[key] = len(n.members)
		firstLine[key] = keyLine
		n.members = append(n.members, member{key: key, val: val})
	}
	if _, err := b.dec.Token(); err != nil { // '}'
		return b.fail(err)
	}
	restore()
	return nil
}

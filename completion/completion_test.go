package completion

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/internal/usage"
)

// Positional skips flags, and the value of a flag that takes one, so the
// argument being completed is counted right (`logs -c c1 demo <TAB>`).
func TestPositional(t *testing.T) {
	flags := func(name string) (ok, isBool bool) {
		switch name {
		case "c", "container":
			return true, false
		case "f":
			return true, true
		}
		return false, false
	}
	got := Positional([]string{"-c", "c1", "demo", "-f", "--container=c0", "-x", "demo-1"}, flags)
	if want := []string{"demo", "demo-1"}; !slices.Equal(got, want) {
		t.Errorf("Positional = %q, want %q", got, want)
	}
}

// Every shell named in Shells has a script; another shell or none is a
// usage error naming the shells.
func TestWrite(t *testing.T) {
	for _, sh := range Shells {
		var b bytes.Buffer
		if err := Write(&b, []string{sh}); err != nil || !strings.Contains(b.String(), "--generate-bash-completion") {
			t.Errorf("%s: %v\n%s", sh, err, b.String())
		}
	}
	for _, args := range [][]string{{"tcsh"}, nil, {"bash", "zsh"}} {
		if err := Write(&bytes.Buffer{}, args); !usage.Is(err) {
			t.Errorf("Write(%q) = %v, want a usage error", args, err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// envAsCLI makes the test binary act as the easlocal CLI (see TestMain),
// so the completion scripts can run "easlocal" without a build.
// envArgvLog names a file each such run appends its arguments to.
const (
	envAsCLI   = "EASLOCAL_TEST_AS_CLI"
	envArgvLog = "EASLOCAL_TEST_ARGV_LOG"
)

func runAsCLI() int {
	if p := os.Getenv(envArgvLog); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			f.WriteString(strings.Join(os.Args, " ") + "\n")
			f.Close()
		}
	}
	return run(os.Args)
}

// asCLI puts an "easlocal" that is this test binary (in CLI mode) first on
// PATH and returns the environment to run shells with, and the file its
// invocations are logged to.
func asCLI(t *testing.T, registryDir string) (env []string, argvLog string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(self, filepath.Join(bin, "easlocal")); err != nil {
		t.Fatal(err)
	}
	argvLog = filepath.Join(t.TempDir(), "argv")
	return binEnv("PATH="+bin+":"+os.Getenv("PATH"), envAsCLI+"=1", envArgvLog+"="+argvLog,
		"EASLOCAL_REGISTRY_DIR="+registryDir), argvLog
}

// bashComplete sources the generated bash script, sets COMP_WORDS and
// COMP_CWORD as bash does when TAB is pressed after line (the last word
// being the one completed), calls the completion function and returns the
// candidates it left in COMPREPLY.
func bashComplete(t *testing.T, env []string, script, line string) []string {
	t.Helper()
	words := strings.Fields(line)
	if strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	prog := script + "\n" +
		"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
		"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n" +
		"COMP_LINE='" + line + "'\n" +
		"_easlocal_complete\n" +
		`printf '%s\n' "${COMPREPLY[@]}"` + "\n"
	return shellLines(t, env, "bash", "--norc", "--noprofile", "-c", prog)
}

// `easlocal completion SHELL` prints each shell's script; every script
// asks easlocal for the candidates and stays away from lines with "--".
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, errOut, code := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "--generate-bash-completion") || !strings.Contains(out, "easlocal") {
			t.Errorf("completion %s: exit %d, stderr %q, script:\n%s", shell, code, errOut, out)
		}
	}
	if _, errOut, code := runCLI(t, "completion", "tcsh"); code != 2 || !strings.Contains(errOut, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d, stderr %q; want 2 naming the shells", code, errOut)
	}
	if _, _, code := runCLI(t, "completion"); code != 2 {
		t.Errorf("completion without a shell: exit %d, want 2", code)
	}
}

// The bash script, run by bash as TAB runs it, completes commands, flags,
// the running service and its instances (asked from its control API);
// after "--" it runs nothing.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed for this test: %v", err)
	}
	dir := t.TempDir()
	startService(t, dir, demoStatus())
	env, argvLog := asCLI(t, dir)
	script, _, code := runCLI(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: exit %d", code)
	}
	for _, tc := range []struct {
		line       string
		want, not  []string
		exactlyOne bool
	}{
		{line: "easlocal ", want: []string{"ps", "kill", "up", "completion", "version"}, not: []string{"demo", "help"}},
		{line: "easlocal ki", want: []string{"kill"}, exactlyOne: true},
		{line: "easlocal kill ", want: []string{"demo", "demo-0", "demo-1"}},
		{line: "easlocal kill demo ", want: []string{"demo-0", "demo-1"}, not: []string{"demo"}},
		{line: "easlocal logs demo demo-1", want: []string{"demo-1"}, exactlyOne: true},
		{line: "easlocal pause --registry-dir " + dir + " d", want: []string{"demo", "demo-0", "demo-1"}},
		{line: "easlocal ps ", want: []string{"demo"}, exactlyOne: true},
		{line: "easlocal kill --si", want: []string{"--signal"}, exactlyOne: true},
		{line: "easlocal completion ", want: []string{"bash", "zsh", "fish"}},
		{line: "easlocal up ", not: []string{"help", "h"}}, // a file: the shell offers those
		{line: "easlocal up --admin", want: []string{"--admin-listen"}, exactlyOne: true},
		{line: "easlocal validate ", not: []string{"help", "h"}},
	} {
		got := bashComplete(t, env, script, tc.line)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("complete %q = %q, want %q among them", tc.line, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("complete %q = %q, want no %q", tc.line, got, w)
			}
		}
		if tc.exactlyOne && len(got) != 1 {
			t.Errorf("complete %q = %q, want only %q", tc.line, got, tc.want)
		}
	}

	// After "--" the words belong to run's command: nothing is completed
	// and easlocal is not started (it would run the service).
	os.Remove(argvLog)
	if got := bashComplete(t, env, script, "easlocal run x.json -- ./t"); len(got) != 0 {
		t.Errorf("complete after --: %q, want nothing", got)
	}
	if b, err := os.ReadFile(argvLog); err == nil {
		t.Errorf("completing after -- ran easlocal: %s", b)
	}
}

// shellLines runs prog with shell and returns its output lines.
func shellLines(t *testing.T, env []string, shell string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", shell, err, errb.String())
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// The zsh and fish scripts complete the same names as bash's. zsh runs
// the completion function with words and CURRENT set as the completion
// system sets them (compadd and _files print what they are given); fish
// answers `complete -C LINE` as it would on TAB.
func TestZshAndFishCompletion(t *testing.T) {
	zsh, fish := testutil.NeedProgram(t, "zsh"), testutil.NeedProgram(t, "fish")
	dir := t.TempDir()
	startService(t, dir, demoStatus())
	env, argvLog := asCLI(t, dir)
	zshScript, _, _ := runCLI(t, "completion", "zsh")
	fishScript, _, _ := runCLI(t, "completion", "fish")
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"easlocal ", []string{"kill", "ps", "completion", "up"}},
		{"easlocal kill ", []string{"demo", "demo-0", "demo-1"}},
		{"easlocal kill demo ", []string{"demo-0", "demo-1"}},
		{"easlocal kill --si", []string{"--signal"}},
	} {
		words := strings.Fields(tc.line)
		if strings.HasSuffix(tc.line, " ") {
			words = append(words, "")
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := "compdef() { :; }\ncompadd() { print -l -- \"${(@P)2}\"; }\n_files() { print -- _files; }\n" + zshScript +
			"\nwords=(" + strings.Join(quoted, " ") + ")\nCURRENT=" + strconv.Itoa(len(words)) + "\n_easlocal\n"
		got := shellLines(t, env, zsh, "-f", "-c", prog)
		if !containsAll(got, tc.want) || slices.Contains(got, "_files") {
			t.Errorf("zsh: complete %q = %q, want %q", tc.line, got, tc.want)
		}
		got = shellLines(t, env, fish, "--no-config", "-c", fishScript+"\ncomplete -C '"+tc.line+"'")
		var names []string
		for _, l := range got {
			name, _, _ := strings.Cut(l, "\t") // fish adds a description after a tab
			names = append(names, name)
		}
		if !containsAll(names, tc.want) || slices.Contains(names, "completion.go") {
			t.Errorf("fish: complete %q = %q, want %q and no files", tc.line, names, tc.want)
		}
	}
	// After "--": files only, and easlocal is not run.
	os.Remove(argvLog)
	prog := "compdef() { :; }\ncompadd() { print -l -- \"${(@P)2}\"; }\n_files() { print -- _files; }\n" + zshScript +
		"\nwords=(easlocal run x.json -- '')\nCURRENT=5\n_easlocal\n"
	if got := shellLines(t, env, zsh, "-f", "-c", prog); !slices.Equal(got, []string{"_files"}) {
		t.Errorf("zsh: complete after -- = %q, want files only", got)
	}
	shellLines(t, env, fish, "--no-config", "-c", fishScript+"\ncomplete -C 'easlocal run x.json -- '")
	if b, err := os.ReadFile(argvLog); err == nil {
		t.Errorf("completing after -- ran easlocal: %s", b)
	}
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

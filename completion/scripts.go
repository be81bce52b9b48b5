package completion

import (
	"io"

	"github.com/easlocal/easlocal/internal/usage"
)

// The scripts never run easlocal for a line that holds "--": after it
// urfave/cli does not treat --generate-bash-completion as the completion
// flag, so `easlocal run x.json -- <TAB>` would start the service.
var scripts = map[string]string{
	"bash": `# bash completion for easlocal: source <(easlocal completion bash)
_easlocal_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local words=("${COMP_WORDS[@]:0:COMP_CWORD}") w
	for w in "${words[@]:1}"; do
		[[ $w == -- ]] && return 0
	done
	local IFS=$'\n' candidates
	if [[ $cur == -* ]]; then
		candidates=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		candidates=$("${words[@]}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F _easlocal_complete easlocal
`,
	"zsh": `#compdef easlocal
# zsh completion for easlocal: source <(easlocal completion zsh) after compinit
_easlocal() {
	local -a before candidates
	before=("${(@)words[1,CURRENT-1]}")
	if (( ${before[(Ie)--]} )); then
		_files
		return
	fi
	local cur=${words[CURRENT]}
	if [[ $cur == -* ]]; then
		candidates=("${(@f)$("${before[@]}" "$cur" --generate-bash-completion 2>/dev/null)}")
	else
		candidates=("${(@f)$("${before[@]}" --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ -n ${candidates[1]} ]]; then
		compadd -a candidates
	else
		_files
	fi
}
compdef _easlocal easlocal
`,
	"fish": `# fish completion for easlocal: easlocal completion fish > ~/.config/fish/completions/easlocal.fish
function __easlocal_complete
	set -l words (commandline -opc)
	set -l cur (commandline -ct)
	set -l out
	if not contains -- -- $words[2..-1]
		if string match -q -- '-*' $cur
			set out ($words $cur --generate-bash-completion 2>/dev/null)
		else
			set out ($words --generate-bash-completion 2>/dev/null)
		end
	end
	if test (count $out) -gt 0
		printf '%s\n' $out
	else
		__fish_complete_path $cur
	end
end
complete -c easlocal -f -a '(__easlocal_complete)'
`,
}

// Shells are the shells Script has a script for.
var Shells = []string{"bash", "zsh", "fish"}

// Script is the completion script for shell.
func Script(shell string) (string, bool) {
	s, ok := scripts[shell]
	return s, ok
}

// Write prints the script of `easlocal completion SHELL` (args).
func Write(w io.Writer, args []string) error {
	if len(args) != 1 {
		return usage.Errorf("completion needs a shell: easlocal completion bash|zsh|fish")
	}
	script, ok := Script(args[0])
	if !ok {
		return usage.Errorf("completion: no script for %q; use bash, zsh or fish", args[0])
	}
	_, err := io.WriteString(w, script)
	return err
}

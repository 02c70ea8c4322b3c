/**
 * The scripts `blit completions bash|zsh|fish` prints. Each one is a thin adapter: on <TAB> it
 * hands the words typed so far to `blit __complete --` (complete-command.ts), which knows the verbs
 * and flags from the program's definitions and asks a daemon for remote names, and offers what it
 * prints; FILES_DIRECTIVE hands local paths back to the shell's own completion, which knows
 * quoting and `~`. Directories (local or remote) end in '/' and get no space after them.
 */
import { type CompletionShell, FILES_DIRECTIVE } from './completion-shells.js';

// bash splits words at ':' (COMP_WORDBREAKS), which would cut HOST:/mod/dir apart: the words are
// taken from the line itself, and the part of the word before its last ':' is trimmed from each
// candidate, since bash replaces only what follows it.
const BASH = `# blit completion for bash. Load it with: eval "$(blit completions bash)"
# or save it as ~/.local/share/bash-completion/completions/blit
_blit() {
  local line="\${COMP_LINE:0:COMP_POINT}"
  local -a words
  read -r -a words <<<"$line"
  if [[ -z "$line" || "$line" =~ [[:space:]]$ ]]; then words+=(""); fi
  local cur="\${words[\${#words[@]}-1]}"
  local IFS=$'\\n'
  local -a candidates
  candidates=($("\${COMP_WORDS[0]}" __complete -- "\${words[@]:1}" 2>/dev/null))
  if [[ \${#candidates[@]} -eq 1 && "\${candidates[0]}" == "${FILES_DIRECTIVE}" ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=("\${candidates[@]}")
    local c
    for c in "\${COMPREPLY[@]}"; do
      if [[ "$c" == */ ]]; then compopt -o nospace 2>/dev/null; break; fi
    done
  fi
  if [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
    local colon_prefix="\${cur%"\${cur##*:}"}"
    local i
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]="\${COMPREPLY[i]#"$colon_prefix"}"; done
  fi
}
complete -F _blit blit
`;

const ZSH = `#compdef blit
# blit completion for zsh. Load it after compinit with: eval "$(blit completions zsh)"
# or save it as _blit in a directory of $fpath
_blit() {
  local -a candidates dirs others
  candidates=("\${(@f)$("\${words[1]}" __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=(\${candidates:#})
  if [[ \${#candidates} -eq 1 && "\${candidates[1]}" == "${FILES_DIRECTIVE}" ]]; then
    _files
    return
  fi
  dirs=(\${(M)candidates:#*/})
  others=(\${candidates:#*/})
  (( \${#dirs} )) && compadd -S '' -- "\${dirs[@]}"
  (( \${#others} )) && compadd -- "\${others[@]}"
  return 0
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _blit "$@"
else
  compdef _blit blit
fi
`;

const FISH = `# blit completion for fish. Load it with: blit completions fish | source
# or save it as ~/.config/fish/completions/blit.fish
function __blit_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -q current[1]; or set current ''
    set -l program $tokens[1]
    set -e tokens[1]
    set -l candidates ($program __complete -- $tokens $current 2>/dev/null)
    if test (count $candidates) -eq 1; and test "$candidates[1]" = "${FILES_DIRECTIVE}"
        __fish_complete_path $current
        return
    end
    printf '%s\\n' $candidates
end
complete -c blit -f -a '(__blit_complete)'
`;

export function completionScript(shell: CompletionShell): string {
  return { bash: BASH, zsh: ZSH, fish: FISH }[shell];
}

/**
 * The scripts `blit completions bash|zsh|fish` prints. Each one is a thin adapter: on <TAB> it
 * hands the words typed so far to `blit __complete --` (complete-command.ts), which knows the verbs
 * and flags from the program's definitions and asks a daemon for remote names, and offers what it
 * prints; FILES_DIRECTIVE hands local paths back to the shell's own completion, which knows
 * quoting and `~`. Directories (local or remote) end in '/' and get no space after them.
 */
import { type CompletionShell, FILES_DIRECTIVE } from './completion-shells.js';

// bash cuts words at COMP_WORDBREAKS characters (':' among them), which would cut HOST:/mod/dir
// apart: the script joins COMP_WORDS back where no blank separated them in COMP_LINE, then takes
// the quoting off each word itself (no eval: a typed `$(...)` stays text). The daemon's names are
// untrusted text, so each candidate is read as one line (mapfile, no splitting or globbing) and
// inserted quoted with `printf %q`, trimmed to the part bash replaces (what follows the last ':').
// Not handled: a word the user opened with a quote (`"HOST:/mod/x<TAB>`) gets the %q form inside
// that quote, which is never run but may not name the file: type such names unquoted.
const BASH = `# blit completion for bash. Load it with: eval "$(blit completions bash)"
# or save it as ~/.local/share/bash-completion/completions/blit
_blit_dequote() {
  local in="$1" out="" quote="" c i
  for ((i = 0; i < \${#in}; i++)); do
    c="\${in:i:1}"
    if [[ "$quote" == "'" ]]; then
      if [[ "$c" == "'" ]]; then quote=""; else out+="$c"; fi
    elif [[ "$c" == "\\\\" ]]; then
      i=$((i + 1))
      c="\${in:i:1}"
      if [[ "$quote" == '"' && "$c" != [\\$\\\`\\"\\\\] ]]; then out+="\\\\"; fi
      out+="$c"
    elif [[ "$quote" == '"' ]]; then
      if [[ "$c" == '"' ]]; then quote=""; else out+="$c"; fi
    elif [[ "$c" == "'" || "$c" == '"' ]]; then
      quote="$c"
    else
      out+="$c"
    fi
  done
  _blit_word="$out"
}
_blit() {
  local line="\${COMP_LINE:0:COMP_POINT}" pos=0 i piece gap _blit_word
  local -a typed=()
  for ((i = 0; i <= COMP_CWORD; i++)); do
    piece="\${COMP_WORDS[i]}"
    gap="\${line:pos}"
    gap="\${gap%%[![:space:]]*}"
    pos=$((pos + \${#gap}))
    if ((i == COMP_CWORD)); then piece="\${line:pos}"; fi
    if ((i == 0 || \${#gap} > 0)); then typed+=(""); fi
    typed[\${#typed[@]}-1]+="$piece"
    pos=$((pos + \${#piece}))
  done
  local cur="\${typed[\${#typed[@]}-1]}"
  # bash replaces only what follows the word's last break character (':'): the rest is kept.
  if [[ \${#piece} -eq 1 && "$COMP_WORDBREAKS" == *"$piece"* ]]; then piece=""; fi
  local kept="\${cur:0:\${#cur}-\${#piece}}"
  local -a words=() candidates=()
  local w
  for w in "\${typed[@]:1}"; do
    _blit_dequote "$w"
    words+=("$_blit_word")
  done
  mapfile -t candidates < <("\${COMP_WORDS[0]}" __complete -- "\${words[@]}" 2>/dev/null)
  COMPREPLY=()
  local c q
  if [[ \${#candidates[@]} -eq 1 && "\${candidates[0]}" == "${FILES_DIRECTIVE}" ]]; then
    # Local paths: bash's own completion, which quotes them itself (-o filenames).
    compopt -o filenames 2>/dev/null
    _blit_dequote "$kept"
    q="$_blit_word"
    mapfile -t candidates < <(compgen -f -- "\${words[\${#words[@]}-1]}")
    for c in "\${candidates[@]}"; do
      if [[ "$c" == "$q"* ]]; then COMPREPLY+=("\${c:\${#q}}"); fi
    done
    return 0
  fi
  for c in "\${candidates[@]}"; do
    printf -v q '%q' "$c"
    if [[ "$q" != "$kept"* ]]; then continue; fi
    COMPREPLY+=("\${q:\${#kept}}")
    if [[ "$c" == */ ]]; then compopt -o nospace 2>/dev/null; fi
  done
  return 0
}
complete -F _blit blit
`;

// zsh: the words are unquoted with (Q), which only takes quotes off (nothing is expanded); each
// name is one element of the (@f) array and compadd quotes what it inserts (it is never given -Q).
// fish: tokens come unescaped from `commandline -o`, the current one through `string unescape`;
// candidates are printed one a line and fish escapes what it inserts.
const ZSH = `#compdef blit
# blit completion for zsh. Load it after compinit with: eval "$(blit completions zsh)"
# or save it as _blit in a directory of $fpath
_blit() {
  local -a candidates dirs others
  candidates=("\${(@f)$("\${words[1]}" __complete -- "\${(@Q)words[2,CURRENT]}" 2>/dev/null)}")
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
    set -l current (commandline -ct | string unescape)
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

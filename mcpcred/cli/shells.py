"""``mcpcred completion``: the shell scripts, and installing one for the user.

The scripts are thin: on TAB they run ``mcpcred __complete`` (``cli/complete.py``)
with the words typed so far and show its answer, so every shell offers the same
subcommands, values and names. Printing a script is served before the CLI
framework is imported (``_entry``), because ``eval "$(mcpcred completion bash)"``
in a shell's rc file runs at every shell start.

``install`` writes the script where the shell looks (fish's completions folder) or
next to it and sources it from the shell's rc file, once: running it again changes
nothing, and it says what it did. rc files are appended to in place (never
replaced), so a symlinked dotfile stays a symlink and keeps its mode.
"""

# ruff: noqa: E501  (the scripts are shell code, laid out for their readers)
from __future__ import annotations

import os
import sys

from mcpcred.errors import UsageError

SHELLS = ("bash", "zsh", "fish", "powershell")
MARKER = "# mcpcred shell completion (added by `mcpcred completion install`)"
FILE_NAMES = {"bash": "mcpcred.bash", "zsh": "_mcpcred", "fish": "mcpcred.fish"}
FILE_NAMES["powershell"] = "mcpcred.ps1"

_HEADER = "mcpcred completion for {shell}: `mcpcred completion {shell}` prints it (generated; do not edit)"

BASH = r"""# __HEADER__
# Every TAB asks `mcpcred __complete WORDS...`: first line a directive (plain, files, dirs),
# then one candidate per line, "value<TAB>description".
_mcpcred() {
    local i word cur directive line
    local -a words=() lines=()
    COMPREPLY=()
    # readline splits "--opt=value" and "a:b" at = and : (COMP_WORDBREAKS); mcpcred sees one word
    for ((i = 1; i <= COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if ((${#words[@]} > 0)) && [[ $word == [=:] || ${words[${#words[@]}-1]} == *[=:] && ${COMP_WORDS[i-1]} == [=:] ]]; then
            words[${#words[@]}-1]+=$word
        else
            words+=("$word")
        fi
    done
    cur=${words[${#words[@]}-1]}
    # mcpcred matches names, not shell syntax: drop an opening quote and backslash escapes
    word=${cur#[\'\"]}
    words[${#words[@]}-1]=${word//\\/}
    # (while read, not mapfile: macOS still ships bash 3.2)
    while IFS= read -r line; do lines+=("$line"); done < <(command mcpcred __complete "${words[@]}" 2>/dev/null)
    directive=${lines[0]-}
    case $directive in
        files | dirs)
            local flag=-f
            [[ $directive == dirs ]] && flag=-d
            compopt -o filenames 2>/dev/null
            [[ $cur == -*=* ]] && cur=${cur#*=}  # --config=PATH: bash completes after the =
            while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen "$flag" -- "$cur")
            return 0 ;;
    esac
    # bash replaces only the part after the last = or :, so offer that part
    local strip=""
    [[ $cur == *[=:]* ]] && strip=${cur%"${cur##*[=:]}"}
    for line in "${lines[@]:1}"; do
        line=${line%%$'\t'*}
        line=${line#"$strip"}
        # a name with a blank or a quote goes onto the line escaped, as one word
        [[ $line == *[[:space:]\'\"\\\$\`\(\)\&\;\|\<\>]* && $cur != [\'\"]* ]] && printf -v line '%q' "$line"
        COMPREPLY+=("$line")
    done
    return 0
}
complete -F _mcpcred mcpcred
"""

ZSH = r"""#compdef mcpcred
# __HEADER__
# Every TAB asks `mcpcred __complete WORDS...`: first line a directive (plain, files, dirs),
# then one candidate per line, "value<TAB>description".
_mcpcred() {
    local out line value desc
    local -a lines described
    out=$(command mcpcred __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    [[ $lines[1] == (files|dirs) && $PREFIX == -*=* ]] && compset -P '*='  # --config=PATH
    case $lines[1] in
        files) _files; return ;;
        dirs) _files -/; return ;;
    esac
    for line in "${(@)lines[2,-1]}"; do
        value=${line%%$'\t'*}
        desc=""
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        described+=("${value//:/\\:}${desc:+:$desc}")
    done
    (( $#described )) && _describe -t values mcpcred described
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _mcpcred "$@"
else
    (( $+functions[compdef] )) || { autoload -Uz compinit && compinit; }
    compdef _mcpcred mcpcred
fi
"""

FISH = r"""# __HEADER__
# Every TAB asks `mcpcred __complete WORDS...`: first line a directive (plain, files, dirs),
# then one candidate per line, "value<TAB>description" (fish shows the description).
function __mcpcred_complete
    set -l words (commandline -opc)
    set -e words[1]
    # the token as typed ("my\ s", "'my s"): mcpcred matches the name it stands for
    set -l token (commandline -ct)
    set -l current ''
    if test -n "$token"  # (string reads stdin when given no argument)
        set current (string unescape -- $token 2>/dev/null)
        or set current (string trim -l -c '\'"' -- $token)
    end
    set -l out (command mcpcred __complete $words "$current" 2>/dev/null)
    or return
    switch "$out[1]"
        case files
            __fish_complete_path "$current"
        case dirs
            __fish_complete_directories "$current"
        case '*'
            set -e out[1]
            printf '%s\n' $out
    end
end
complete -c mcpcred -f -a '(__mcpcred_complete)'
"""

POWERSHELL = r"""# __HEADER__
# Every TAB asks `mcpcred __complete --current=WORD WORDS...`: first line a directive (plain,
# files, dirs), then one candidate per line, "value<TAB>description".
Register-ArgumentCompleter -Native -CommandName mcpcred -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @()
    foreach ($element in $commandAst.CommandElements | Select-Object -Skip 1) {
        if ($element.Extent.EndOffset -lt $cursorPosition) { $words += $element.ToString() }
    }
    $lines = @(& mcpcred __complete "--current=$wordToComplete" @words 2>$null)
    if ($lines.Count -eq 0) { return }
    if ($lines[0] -eq 'files' -or $lines[0] -eq 'dirs') {
        # PowerShell's own file-name completion: paths as typed, quoted where needed
        [System.Management.Automation.CompletionCompleters]::CompleteFilename($wordToComplete) |
            Where-Object { $lines[0] -eq 'files' -or $_.ResultType -eq 'ProviderContainer' }
        return
    }
    foreach ($line in $lines | Select-Object -Skip 1) {
        $parts = $line -split "`t", 2
        $tip = if ($parts.Count -gt 1 -and $parts[1]) { $parts[1] } else { $parts[0] }
        $text = $parts[0]
        if ($text -match '[\s''"`$;,(){}@#|&<>]') { $text = "'" + $text.Replace("'", "''") + "'" }
        [System.Management.Automation.CompletionResult]::new($text, $parts[0], 'ParameterValue', $tip)
    }
}
"""

_SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH, "powershell": POWERSHELL}


def script(shell: str) -> str:
    """The completion script for one of ``SHELLS``."""
    return _SCRIPTS[shell].replace("__HEADER__", _HEADER.format(shell=shell))


def detect(environ: dict[str, str] | os._Environ[str], *, installing: bool = False) -> str:
    """The user's shell from ``$SHELL`` (PowerShell where it sets ``PSModulePath`` only)."""
    name = os.path.basename(environ.get("SHELL", ""))
    if name in ("pwsh", "powershell"):
        return "powershell"
    if name in SHELLS:
        return name
    if not name and environ.get("PSModulePath"):
        return "powershell"
    raise UsageError(
        f"cannot tell which shell to complete from $SHELL ({name or 'unset'})",
        hint=f"name it: mcpcred completion {'install ' if installing else ''}"
        "bash|zsh|fish|powershell",
    )


def _home(environ: dict[str, str] | os._Environ[str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def _xdg(environ: dict[str, str] | os._Environ[str], var: str, default: str) -> str:
    value = environ.get(var, "")
    return value if os.path.isabs(value) else os.path.join(_home(environ), default)


def targets(shell: str, environ: dict[str, str] | os._Environ[str]) -> tuple[str, str | None]:
    """(script file, rc file that must source it or None) for ``shell``."""
    home = _home(environ)
    data = _xdg(environ, "XDG_DATA_HOME", os.path.join(".local", "share"))
    config = _xdg(environ, "XDG_CONFIG_HOME", ".config")
    if shell == "bash":
        # bash-completion's per-user folder: where it would look for "mcpcred" on its own
        return os.path.join(data, "bash-completion", "completions", "mcpcred"), os.path.join(
            home, ".bashrc"
        )
    if shell == "zsh":
        zdot = environ.get("ZDOTDIR") or home
        return os.path.join(data, "zsh", "site-functions", "_mcpcred"), os.path.join(zdot, ".zshrc")
    if shell == "fish":
        return os.path.join(config, "fish", "completions", "mcpcred.fish"), None  # autoloaded
    if sys.platform == "win32":
        profile = os.path.join(home, "Documents", "PowerShell")
        local = environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        script_path = os.path.join(local, "mcpcred", "mcpcred.ps1")
    else:
        profile = os.path.join(config, "powershell")
        script_path = os.path.join(data, "mcpcred", "mcpcred.ps1")
    return script_path, os.path.join(profile, "Microsoft.PowerShell_profile.ps1")


def _source_line(shell: str, path: str) -> str:
    quoted = path.replace('"', '\\"')
    if shell == "powershell":
        return f'if (Test-Path "{quoted}") {{ . "{quoted}" }}'
    return f'[ -r "{quoted}" ] && . "{quoted}"'


def install(shell: str, environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """Install ``shell``'s script for this user; returns one line per thing done (or not).

    A file that cannot be read or written (a read-only home, an rc file that is a
    folder) is a ``ConfigError`` naming it (exit 3), never a crash.
    """
    from mcpcred.errors import ConfigError

    try:
        return _install(shell, environ)
    except OSError as exc:
        where = exc.filename or "a file"
        raise ConfigError(
            f"cannot install {shell} completion: {where}: {exc.strerror or exc}",
            hint=f'or add `eval "$(mcpcred completion {shell})"` to your shell\'s rc file yourself'
            if shell != "powershell"
            else "or add `mcpcred completion powershell | Out-String | Invoke-Expression` to $PROFILE",
        ) from None


def _install(shell: str, environ: dict[str, str] | os._Environ[str]) -> list[str]:
    from mcpcred.fsutil import atomic_write

    path, rc = targets(shell, environ)
    text = script(shell)
    done: list[str] = []
    try:
        current = open(path, encoding="utf-8").read()  # noqa: SIM115 (read and closed by GC)
    except OSError:
        current = None
    if current == text:
        done.append(f"unchanged: {path}")
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, text, mode=0o644)
        done.append(f"{'updated' if current is not None else 'wrote'} {path}")
    if rc is not None:
        try:
            with open(rc, encoding="utf-8") as handle:
                rc_text = handle.read()
        except FileNotFoundError:
            rc_text = ""
        if MARKER in rc_text:
            done.append(f"unchanged: {rc} already sources it")
        else:
            os.makedirs(os.path.dirname(rc), exist_ok=True)
            separator = "" if not rc_text or rc_text.endswith("\n") else "\n"
            with open(rc, "a", encoding="utf-8") as handle:
                handle.write(f"{separator}{MARKER}\n{_source_line(shell, path)}\n")
            done.append(f"added 2 lines to {rc} to load it")
    reload = {
        "bash": f"source {rc}",
        "zsh": f"source {rc}",
        "fish": "nothing: fish loads it at the next TAB",
        "powershell": f". {rc}",
    }[shell]
    done.append(f"open a new shell to use it (or now: {reload})")
    return done


def main(args: list[str]) -> int:
    """``mcpcred completion [SHELL]`` / ``mcpcred completion install [SHELL]``."""
    try:
        return _main(args)
    except UsageError as exc:  # the one error printing a script can meet; installing goes
        sys.stderr.write(f"error: {exc.message}\n")  # through report.guarded for the rest
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code


def _main(args: list[str]) -> int:
    rest = list(args)
    installing = bool(rest) and rest[0] == "install"
    if installing:
        rest = rest[1:]
    if len(rest) > 1:
        raise UsageError(f"unexpected argument {rest[1]!r}", hint="see `mcpcred completion --help`")
    if rest and rest[0] not in SHELLS:
        raise UsageError(
            f"unknown shell {rest[0]!r}; choose bash, zsh, fish or powershell",
            hint="see `mcpcred completion --help`",
        )
    shell = rest[0] if rest else detect(os.environ, installing=installing)
    if not installing:
        sys.stdout.write(script(shell))
        return 0
    from mcpcred.cli.report import guarded

    def body() -> int:
        for line in install(shell, os.environ):
            sys.stderr.write(line + "\n")
        return 0

    return guarded(body, debug=False)

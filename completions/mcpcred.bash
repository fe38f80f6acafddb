# mcpcred completion for bash: `mcpcred completion bash` prints it (generated; do not edit)
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

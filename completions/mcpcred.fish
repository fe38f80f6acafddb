# mcpcred completion for fish: `mcpcred completion fish` prints it (generated; do not edit)
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

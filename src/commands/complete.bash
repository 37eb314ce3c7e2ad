
# Dynamic completion (agevault): secret paths, profiles, recipients and scopes come from
# `agevault __complete KIND`, which reads the config (and, for paths, the vault) and
# never prompts; everything else falls back to the generated _agevault above.
_agevault_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local kind="" i w skip=0 words=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            @VALUE_OPTIONS@)
                skip=1; continue ;;
            -*) continue ;;
        esac
        words+=("$w")
    done
    case "$prev" in
        -p|--profile) kind=profiles ;;
        --to) kind=scopes ;;
        --only) kind=paths ;;
    esac
    if [[ -z "$kind" && "$cur" != -* ]]; then
        case "${words[0]}" in
            get|rm|set|ls|log) ((${#words[@]} == 1)) && kind=paths ;;
            rotate) kind=paths ;;
            recipients) [[ "${words[1]}" == remove && ${#words[@]} -eq 2 ]] && kind=recipients ;;
            scopes)
                case "${words[1]}:${#words[@]}" in
                    grant:2|revoke:2|remove:2) kind=scopes ;;
                    grant:3|revoke:3) kind=recipients ;;
                    move:2) kind=paths ;;
                esac ;;
        esac
    fi
    if [[ -n "$kind" ]]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete "$kind" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _agevault "$@"
}
complete -F _agevault_dynamic -o bashdefault -o default agevault

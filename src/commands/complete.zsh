
# Dynamic completion (agevault): secret paths, profiles, recipients and scopes come from
# `agevault __complete KIND`, which reads the config (and, for paths, the vault) and
# never prompts; everything else is the generated _agevault above.
_agevault_dynamic() {
    local cur=${words[CURRENT]} prev=${words[CURRENT-1]} kind= w i skip=0
    local -a rest candidates
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        if (( skip )); then skip=0; continue; fi
        case $w in
            (@VALUE_OPTIONS@) skip=1; continue ;;
            (-*) continue ;;
        esac
        rest+=("$w")
    done
    case $prev in
        (-p|--profile) kind=profiles ;;
        (--to) kind=scopes ;;
        (--only) kind=paths ;;
    esac
    if [[ -z $kind && $cur != -* ]]; then
        case ${rest[1]} in
            (get|rm|set|ls|log) (( ${#rest} == 1 )) && kind=paths ;;
            (rotate) kind=paths ;;
            (recipients) [[ ${rest[2]} == remove && ${#rest} -eq 2 ]] && kind=recipients ;;
            (scopes)
                case "${rest[2]}:${#rest}" in
                    (grant:2|revoke:2|remove:2) kind=scopes ;;
                    (grant:3|revoke:3) kind=recipients ;;
                    (move:2) kind=paths ;;
                esac ;;
        esac
    fi
    if [[ -n $kind ]]; then
        candidates=(${(f)"$(${~words[1]} __complete $kind 2>/dev/null)"})
        compadd -a candidates
        return
    fi
    _agevault "$@"
}

if [ "$funcstack[1]" = "_agevault" ]; then
    _agevault_dynamic "$@"
else
    compdef _agevault_dynamic agevault
fi

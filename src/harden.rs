//! Process hardening applied before anything is decrypted.

/// Turns core dumps off: a crash must not write decrypted secrets to disk.
/// `PR_SET_DUMPABLE=0` also keeps other processes of the same user from
/// ptrace-attaching and from reading our /proc/PID/environ and memory.
pub fn disable_core_dumps() {
    // Linux only; elsewhere the core-size limit below is what keeps secrets out of dumps.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Ok((_, hard)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE) {
        // Only the soft limit: children may raise theirs again if they want dumps.
        let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, hard);
    }
}

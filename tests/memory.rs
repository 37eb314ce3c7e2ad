//! Peak memory of reading a large vault (alone in its test binary: the measure is
//! the largest resident size of any child this process waited for).

mod common;

use common::Sandbox;

#[test]
fn textconv_of_a_large_vault_peaks_under_three_times_its_size() {
    let sb = Sandbox::init();
    let value: String = (0..1 << 20).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let secrets: Vec<String> = (0..8).map(|i| format!("\"v{i}\":\"{value}\"")).collect();
    let doc = format!(
        "{{\"version\":1,\"secrets\":{{{}}},\"fingerprint_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}",
        secrets.join(",")
    );
    sb.age_encrypt_vault(doc.as_bytes());
    let size = std::fs::metadata(sb.vault()).unwrap().len();
    let out = sb.cmd(&["git", "textconv"]).arg(sb.vault()).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("v7  fp:"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let peak = u64::try_from(usage.max_rss()).unwrap() * 1024;
    eprintln!("peak {} KiB for a {} KiB vault", peak >> 10, size >> 10);
    assert!(
        peak < 3 * size,
        "textconv peaked at {} MiB for a {} MiB vault",
        peak >> 20,
        size >> 20
    );
}

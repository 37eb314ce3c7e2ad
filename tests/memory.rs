//! Peak memory of reading a large vault (alone in its test binary: the measure is
//! the largest resident size of any child this process waited for).

mod common;

use common::Sandbox;

#[test]
fn textconv_of_a_large_vault_peaks_under_three_times_its_size() {
    let sb = Sandbox::init();
    let value: String = (0..1u32 << 20)
        .map(|i| char::from(b'a' + u8::try_from(i % 26).unwrap()))
        .collect();
    let secrets: Vec<String> = (0..8).map(|i| format!("\"v{i}\":\"{value}\"")).collect();
    let doc = format!(
        "{{\"version\":1,\"secrets\":{{{}}},\"fingerprint_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}",
        secrets.join(",")
    );
    sb.age_encrypt_vault(doc.as_bytes());
    let size = std::fs::metadata(sb.vault()).unwrap().len();
    let vault = sb.vault();
    let textconv = max_rss_kib(&sb, &["git", "textconv", vault.to_str().unwrap()]);
    // What the binary costs before it reads anything (a debug build maps megabytes).
    let baseline = max_rss_kib(&sb, &["--version"]);
    let peak = (textconv - baseline) * 1024;
    eprintln!(
        "textconv {textconv} KiB, baseline {baseline} KiB, for a {} KiB vault",
        size >> 10
    );
    assert!(
        peak < 3 * size,
        "textconv peaked {} MiB above its baseline for a {} MiB vault",
        peak >> 20,
        size >> 20
    );
}

/// Largest resident size of one run of the binary, measured by a fresh python3 parent
/// (so no other child of this test counts), and checks the run succeeded.
fn max_rss_kib(sb: &Sandbox, args: &[&str]) -> u64 {
    let script = "import resource,subprocess,sys\n\
                  r=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE)\n\
                  assert r.returncode==0 and (b'v7  fp:' in r.stdout or b'agevault' in r.stdout), r.stdout[:300]\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
    let cmd = sb.command(&[]);
    let bin = env!("CARGO_BIN_EXE_agevault");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .args(args)
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .current_dir(sb.repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

//! A headless participant (`meshfed join`) for the run tests: its scan written as NIfTI, and
//! the arguments that sign it in as a test user.

use std::path::{Path, PathBuf};

use meshfed_cli::backend::Backend;
use meshfed_cli::join::JoinArgs;
use meshfed_cli::volume_io;
use meshfed_shared::secret::Secret;
use meshfed_shared::volume::phantom;

use crate::identity::{MfaUser, PASSWORD};
use crate::Ctx;

/// Writes a `dims` phantom (seed `seed`) and its labels under `dir` as `t1-{name}.nii` and
/// `labels-{name}.nii`; the two paths.
pub fn write_phantom(dir: &Path, name: &str, dims: [usize; 3], seed: u64) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("a directory for the test scans");
    let (volume, labels) = phantom(dims, seed);
    let header = volume_io::plain_header();
    let (v, l) = (
        dir.join(format!("t1-{name}.nii")),
        dir.join(format!("labels-{name}.nii")),
    );
    volume_io::write_volume(&v, &volume, &header).expect("the phantom is written");
    volume_io::write_labels(&l, &labels, &header).expect("its labels are written");
    (v, l)
}

/// `user` joining `rounds` rounds of `run` on the CPU with these files.
pub fn join_args(
    ctx: &Ctx,
    user: &MfaUser,
    run: i64,
    (volume, labels): (PathBuf, PathBuf),
    rounds: u32,
    seed: u64,
    wait_secs: u64,
) -> JoinArgs {
    // Beside its scan: each participant pins the keys it sees in a file of its own.
    let known_keys =
        (volume.parent()).map(|dir| dir.join(format!("known-keys-{}.json", user.username)));
    JoinArgs {
        server: ctx.base.clone(),
        run,
        volume,
        labels,
        rounds,
        seed,
        wait_secs,
        backend: Backend::Cpu,
        username: user.username.clone(),
        password: Some(Secret::new(PASSWORD)),
        totp_secret: Some(Secret::new(user.secret.clone())),
        recovery_phrase: Some(Secret::new(user.recovery_phrase.clone())),
        known_keys,
    }
}

/// One `meshfed join` per user, side by side, for `rounds` rounds, each with its own 20³
/// phantom scan (seeded by its position) written under `dir`; waits for all of them and
/// asserts that each succeeded and took part in every round. Their reports, per user.
pub fn join_all(
    ctx: &Ctx,
    users: &[MfaUser],
    run: i64,
    dir: &Path,
    rounds: u32,
) -> Vec<Vec<meshfed_cli::join::RoundReport>> {
    let threads: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let files = write_phantom(dir, &i.to_string(), [20, 20, 20], i as u64);
            let args = join_args(ctx, u, run, files, rounds, i as u64, 120);
            std::thread::spawn(move || meshfed_cli::join::run(args))
        })
        .collect();
    threads
        .into_iter()
        .map(|t| {
            let reports = t.join().unwrap().expect("join succeeds");
            assert_eq!(reports.len(), rounds as usize, "{reports:?}");
            reports
        })
        .collect()
}

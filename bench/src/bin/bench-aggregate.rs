//! Native aggregation benchmarks (no server):
//! 1. Streaming FedAvg (`meshfed_shared::aggregate::RunningSum`) for N ∈ {2, 8, 32} uploads ×
//!    P ∈ {5,598; 1M; 10M} f32, in GB/s of input, side by side with numpy running Flower's
//!    FedAvg formula on the same data and a plain f32 sum over the same bytes (the machine's
//!    limit), all in one run.
//! 2. Bytes and parse time of one model5 upload as the seeds' JSON and as safetensors.
//!
//! `cargo run --release -p meshfed-bench --bin bench-aggregate [PYTHON]` where PYTHON has
//! numpy (default `python3`; e.g. `python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy`).

use std::hint::black_box;
use std::time::Instant;

use meshfed_e2e::runs::values;
use meshfed_shared::aggregate::RunningSum;
use meshfed_shared::api::upload::{decode_json, decode_safetensors, MetricFields};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::tensor::{nested_json, safetensors, DType};

/// Best of `repeats` wall-clock seconds.
fn best<T>(repeats: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn plain_sum(uploads: &[Vec<f32>]) -> f32 {
    let mut lanes = [0f32; 16];
    for u in uploads {
        for chunk in u.chunks_exact(16) {
            for (l, v) in lanes.iter_mut().zip(chunk) {
                *l += v;
            }
        }
    }
    lanes.iter().sum()
}

fn numpy(python: &str, uploads: &[Vec<f32>], weights: &[f64], repeats: usize) -> Option<f64> {
    let path = std::env::temp_dir().join(format!("meshfed-bench-{}.f32", std::process::id()));
    let mut bytes = Vec::with_capacity(uploads.len() * uploads[0].len() * 4);
    for u in uploads {
        u.iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    }
    std::fs::write(&path, &bytes).ok()?;
    drop(bytes);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/reference/fedavg_numpy.py");
    let w: Vec<String> = weights.iter().map(|w| w.to_string()).collect();
    let out = std::process::Command::new(python)
        .args([
            script,
            path.to_str()?,
            &uploads.len().to_string(),
            &uploads[0].len().to_string(),
        ])
        .args([repeats.to_string(), w.join(",")])
        .output()
        .ok();
    let _ = std::fs::remove_file(&path);
    let out = out?;
    if !out.status.success() {
        eprintln!(
            "numpy run failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let python = std::env::args().nth(1).unwrap_or_else(|| "python3".into());
    println!(
        "# 1. FedAvg over N uploads of P f32 (GB/s of input, best of R; ratio = ours / numpy)"
    );
    println!(
        "{:>4} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "N", "P", "ours", "numpy", "plain sum", "ratio", "ours/limit"
    );
    for &p in &[5_598usize, 1_000_000, 10_000_000] {
        for &n in &[2usize, 8, 32] {
            let uploads: Vec<Vec<f32>> = (0..n).map(|i| values(i as u64 + 1, p)).collect();
            let weights: Vec<f64> = (0..n).map(|i| (1 + i * 7 % 13) as f64).collect();
            let repeats = if p * n > 50_000_000 {
                3
            } else if p > 10_000 {
                5
            } else {
                200
            };
            let gb = (n * p * 4) as f64 / 1e9;
            let ours = best(repeats, || {
                let mut sum = RunningSum::new(p);
                for (u, w) in uploads.iter().zip(&weights) {
                    sum.add(u, *w);
                }
                sum.mean()
            });
            let limit = best(repeats, || plain_sum(&uploads));
            let np = numpy(&python, &uploads, &weights, repeats);
            let np_text = np.map_or("n/a".to_string(), |t| format!("{:.2}", gb / t));
            let ratio = np.map_or("n/a".to_string(), |t| format!("{:.2}x", t / ours));
            println!(
                "{n:>4} {p:>10} {:>10.2} {np_text:>10} {:>10.2} {ratio:>8} {:>9.0}%",
                gb / ours,
                gb / limit,
                100.0 * limit / ours
            );
        }
    }

    println!("\n# 3. One model5 upload (5,598 parameters): the seeds' JSON against safetensors");
    let m = ModelConfig::model5(3);
    let values = values(7, m.parameter_count());
    let named = m.unflatten(&values);
    let st = safetensors::write(&named, DType::F32, &Default::default());
    let st16 = safetensors::write(&named, DType::F16, &Default::default());
    let json = format!(
        "{{\"weights\": {}, \"num_examples\": 1}}",
        nested_json::write_object(&named)
    );
    let fields = MetricFields {
        num_examples: Some("1".into()),
        ..Default::default()
    };
    let t_json = best(300, || decode_json(json.as_bytes(), &m).unwrap());
    let t_st = best(300, || decode_safetensors(&st, &m, &fields).unwrap());
    let t_st16 = best(300, || decode_safetensors(&st16, &m, &fields).unwrap());
    println!("{:<16} {:>10} {:>12}", "format", "bytes", "decode µs");
    println!(
        "{:<16} {:>10} {:>12.1}",
        "JSON (seeds)",
        json.len(),
        t_json * 1e6
    );
    println!(
        "{:<16} {:>10} {:>12.1}",
        "safetensors F32",
        st.len(),
        t_st * 1e6
    );
    println!(
        "{:<16} {:>10} {:>12.1}",
        "safetensors F16",
        st16.len(),
        t_st16 * 1e6
    );
    println!(
        "JSON is {:.1}x the bytes and {:.1}x the decode time of safetensors F32",
        json.len() as f64 / st.len() as f64,
        t_json / t_st
    );
}

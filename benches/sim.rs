//! Simulator throughput, measured in one run: patient-days per second on 1
//! and 2 threads (parallel efficiency), and the throughput of the random
//! generator alone, which with the words one patient-day draws gives the
//! generator-bound limit of this model.
//!
//! `cargo bench --bench sim [-- PATIENTS]` (default 40,000 patients × 12
//! weeks of the pain-contingent scenario, one run).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use lumbar_sim::engine::{RunOptions, Shard, simulate, words_per_patient_day};
use lumbar_sim::scenario::Scenario;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// hesim's individual-level simulation, 2021 (Incerti & Jansen, JOSS; the
/// package's published benchmark): about 5.5 million patient-cycles per
/// second on one thread.
const HESIM_PATIENT_CYCLES_PER_S: f64 = 5.5e6;

fn main() {
    let patients: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40_000);
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/scenarios/pain-contingent.toml");
    let mut s = Scenario::load(&path).expect("shipped scenario");
    s.patients = patients;
    s.psa = None;
    s.replications = 1;
    let patient_days = patients as f64 * s.days() as f64;
    let words_pd = words_per_patient_day(&s, 2000).expect("words per patient-day");

    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("thread pool")
    };
    let p1 = pool(1);
    let p2 = pool(2);
    let time_sim = |p: &rayon::ThreadPool| {
        let t = Instant::now();
        let r = p.install(|| {
            simulate(
                &s,
                RunOptions {
                    shard: Shard::WHOLE,
                },
                None,
                &|_| {},
            )
        });
        black_box(r.expect("simulate"));
        t.elapsed().as_secs_f64()
    };
    // The generator alone, two ways: one `next_u64` call per word (how a
    // simulator that calls the generator per draw pays for it), and
    // `fill_bytes` of 256-byte blocks (how lumbar's `Draws` takes its words:
    // ChaCha8's own throughput, the physical limit).
    let gen_words = 200_000_000u64;
    let time_next_u64 = || {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t = Instant::now();
        let mut acc = 0u64;
        for _ in 0..gen_words / 2 {
            acc = acc.wrapping_add(rng.next_u64());
        }
        black_box(acc);
        t.elapsed().as_secs_f64()
    };
    let time_blocks = || {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut block = [0u8; 256];
        let t = Instant::now();
        let mut acc = 0u8;
        for _ in 0..gen_words / 64 {
            rng.fill_bytes(&mut block);
            acc = acc.wrapping_add(black_box(&block)[17]);
        }
        black_box(acc);
        t.elapsed().as_secs_f64()
    };
    // Interleaved, best of five each, so the machine's noise hits all alike
    // (single runs here move by a quarter).
    let mut t1 = f64::INFINITY;
    let mut t2 = f64::INFINITY;
    let mut tn = f64::INFINITY;
    let mut tb = f64::INFINITY;
    for _ in 0..5 {
        t1 = t1.min(time_sim(&p1));
        t2 = t2.min(time_sim(&p2));
        tn = tn.min(time_next_u64());
        tb = tb.min(time_blocks());
    }
    let pd1 = patient_days / t1;
    let pd2 = patient_days / t2;
    let per_call = gen_words as f64 / tn;
    let bulk = gen_words as f64 / tb;
    println!(
        "scenario {} ({} items, {} rules): {patients} patients × {} days = {:.2e} patient-days",
        s.name,
        s.items.len(),
        s.rules.len(),
        s.days(),
        patient_days
    );
    println!("1 thread:  {t1:.3} s, {:.2} M patient-days/s", pd1 / 1e6);
    println!("2 threads: {t2:.3} s, {:.2} M patient-days/s", pd2 / 1e6);
    println!("parallel efficiency on 2 threads: {:.3}", pd2 / (2.0 * pd1));
    println!("random words per patient-day: {words_pd:.1} (32-bit)");
    for (how, words_per_s) in [
        ("in 256-byte blocks", bulk),
        ("one next_u64 per draw", per_call),
    ] {
        let limit = words_per_s / words_pd;
        println!(
            "ChaCha8 {how}: {:.0} M 64-bit words/s on 1 thread; generator-bound limit {:.2} M patient-days/s; lumbar reaches {:.0}% of it",
            words_per_s / 2e6,
            limit / 1e6,
            100.0 * pd1 / limit
        );
    }
    println!(
        "for context, hesim (2021): {:.1} M patient-cycles/s per thread; lumbar: {:.2} M patient-days/s per thread ({:.2}×)",
        HESIM_PATIENT_CYCLES_PER_S / 1e6,
        pd1 / 1e6,
        pd1 / HESIM_PATIENT_CYCLES_PER_S
    );
}

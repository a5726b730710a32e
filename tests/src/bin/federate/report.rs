//! The benchmark's figures: a table per seed and the gaps over the seeds.

use std::fmt::Write;

use meshfed_lab::{Scores, TAIL};

/// The figures after `rounds` rounds (`steps` summed local steps).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub rounds: u32,
    pub steps: u32,
    /// The run's federated validation Dice of the global model (example-weighted over sites).
    pub federated: Option<f64>,
    /// The global model scored on the test hemisphere as `distill` scores its own.
    pub global: f64,
    /// The centralised arm at the same summed steps.
    pub central: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedResult {
    pub seed: u64,
    pub rows: Vec<Row>,
    /// Wall minutes of the federated arm (its last site) and of the centralised arm.
    pub minutes: (f64, f64),
}

/// Final and last-[`TAIL`]-mean of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ends {
    pub last: f64,
    pub tail: f64,
}

fn ends(values: impl Iterator<Item = Option<f64>>) -> Ends {
    let mut scores = Scores::default();
    values.flatten().for_each(|v| scores.push(v));
    Ends {
        last: scores.last(),
        tail: scores.tail_mean(TAIL),
    }
}

fn cell(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

impl SeedResult {
    pub fn federated(&self) -> Ends {
        ends(self.rows.iter().map(|r| r.federated))
    }

    pub fn global(&self) -> Ends {
        ends(self.rows.iter().map(|r| Some(r.global)))
    }

    pub fn central(&self) -> Ends {
        ends(self.rows.iter().map(|r| r.central))
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "[federate] seed {}: mean WM/GM Dice (federated arm {:.0} min, centralised {:.0} min)\n",
            self.seed, self.minutes.0, self.minutes.1
        );
        let _ = writeln!(
            out,
            "  {:>6} {:>6} {:>12} {:>12} {:>12} {:>8}",
            "rounds", "steps", "fed-valid", "global-test", "centralised", "gap"
        );
        for r in &self.rows {
            let gap = r.central.zip(r.federated).map(|(c, f)| c - f);
            let _ = writeln!(
                out,
                "  {:>6} {:>6} {:>12} {:>12.4} {:>12} {:>8}",
                r.rounds,
                r.steps,
                cell(r.federated),
                r.global,
                cell(r.central),
                cell(gap)
            );
        }
        let (f, g, c) = (self.federated(), self.global(), self.central());
        let _ = writeln!(
            out,
            "  final / mean of the last {TAIL}: federated validation {:.4} / {:.4}, global on the \
             test hemisphere {:.4} / {:.4}, centralised {:.4} / {:.4}",
            f.last, f.tail, g.last, g.tail, c.last, c.tail
        );
        out
    }
}

/// The gaps (centralised − federated; positive when federated trails) per seed and their mean.
pub fn summary(results: &[SeedResult]) -> String {
    let mut out = String::from(
        "[federate] gap to centralised (final / mean of the last 4), federated validation | \
         global model on the test hemisphere\n",
    );
    let mut sums = [0.0; 4];
    for r in results {
        let (f, g, c) = (r.federated(), r.global(), r.central());
        let gaps = [
            c.last - f.last,
            c.tail - f.tail,
            c.last - g.last,
            c.tail - g.tail,
        ];
        for (s, g) in sums.iter_mut().zip(gaps) {
            *s += g;
        }
        let _ = writeln!(
            out,
            "  seed {}: {:.4} / {:.4} | {:.4} / {:.4}",
            r.seed, gaps[0], gaps[1], gaps[2], gaps[3]
        );
    }
    let n = results.len().max(1) as f64;
    let _ = writeln!(
        out,
        "  mean over {} seeds: {:.4} / {:.4} | {:.4} / {:.4} (goal: at most 0.01)",
        results.len(),
        sums[0] / n,
        sums[1] / n,
        sums[2] / n,
        sums[3] / n
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rounds: u32, federated: f64, central: f64) -> Row {
        Row {
            rounds,
            steps: rounds * 20,
            federated: Some(federated),
            global: federated - 0.01,
            central: Some(central),
        }
    }

    #[test]
    fn gaps_are_centralised_minus_federated_over_the_tail() {
        let seed = |seed, fed: [f64; 5], central: f64| SeedResult {
            seed,
            rows: (0..5)
                .map(|i| row(10 * (i + 1), fed[i as usize], central))
                .collect(),
            minutes: (1.0, 1.0),
        };
        let one = seed(1, [0.1, 0.5, 0.6, 0.7, 0.8], 0.9);
        assert_eq!(one.federated().last, 0.8);
        assert!((one.federated().tail - 0.65).abs() < 1e-12);
        let two = seed(2, [0.1, 0.9, 0.9, 0.9, 0.9], 0.8);
        let text = summary(&[one.clone(), two]);
        // Seed 1: 0.1 final, 0.25 tail; seed 2: −0.1 and −0.1; the means 0.0 and 0.075.
        assert!(
            text.contains("seed 1: 0.1000 / 0.2500 | 0.1100 / 0.2600"),
            "{text}"
        );
        assert!(
            text.contains("mean over 2 seeds: 0.0000 / 0.0750"),
            "{text}"
        );
        assert!(
            one.table().contains("      50   1000       0.8000"),
            "{}",
            one.table()
        );
    }
}

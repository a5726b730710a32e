//! Secure aggregation (Bonawitz et al. 2017, "Practical Secure Aggregation for
//! Privacy-Preserving Machine Learning"): the server learns the sum of the participants'
//! updates and nothing of any one of them, and still gets the sum when participants drop out
//! after masking, as long as `threshold` of them stay.
//!
//! Pure and deterministic given its entropy, so `meshfed join` and the browser's worker run
//! the same bytes. Primitives: X25519 ([`keys`]), HKDF-SHA256 ([`kdf`]), the ChaCha12 mask stream
//! ([`stream`]), Shamir over GF(2⁸) ([`shamir`]), fixed point in Z/2³² ([`fixed`]).
//! The participant's steps are in [`client`], the server's in [`server`].

pub mod client;
pub mod fixed;
pub mod identity;
pub mod kdf;
pub mod keys;
pub mod participant;
pub mod server;
pub mod shamir;
pub mod stream;
pub mod vector;

pub use client::{Peer, Reveal, SealedShare, Secret};
pub use kdf::RoundContext;
pub use keys::{KeyAdvert, RoundSecrets};

/// Why a secure round cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecAggError {
    #[error("the key is not a usable X25519 public key (small order, or both keys equal)")]
    BadKey,
    #[error("the shares from participant {from} do not open: altered, or for another round")]
    BadShare { from: u8 },
    #[error("participant indices must be distinct and from 1")]
    Duplicate,
    #[error("a threshold of {threshold} needs at least 2 and at most {participants} participants")]
    Threshold {
        threshold: usize,
        participants: usize,
    },
    #[error("the survivors must be at least the threshold, all of them among the senders")]
    Survivors,
    #[error("participant {about}'s secret has {have} shares, {need} needed")]
    TooFewShares { about: u8, have: usize, need: usize },
    #[error("participant {about}'s rebuilt mask key does not match the key it advertised")]
    WrongKey { about: u8 },
    #[error(
        "this participant is not among the round's members (its keys or shares came too late)"
    )]
    NotMember,
    #[error("the round keys are not signed by their owner's key (the recovery phrase's)")]
    Unsigned,
    #[error("participant {about}'s round keys are not signed by its owner's key")]
    UnsignedMember { about: u8 },
    #[error(
        "{username}'s key is not the one first seen for them: someone may be posing as {username}"
    )]
    KeyChanged { username: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: RoundContext = RoundContext { run: 7, round: 3 };

    struct Site {
        x: u8,
        secrets: RoundSecrets,
        input: Vec<f64>,
    }

    fn sites(n: u8, len: usize) -> Vec<Site> {
        (1..=n)
            .map(|x| Site {
                x,
                secrets: RoundSecrets::derive(&[x; 32], &CTX),
                input: (0..len)
                    .map(|i| ((i as f64 * 0.37 + x as f64).sin()) * 0.5)
                    .collect(),
            })
            .collect()
    }

    fn peers(sites: &[Site]) -> Vec<Peer> {
        sites
            .iter()
            .map(|s| Peer {
                x: s.x,
                keys: s.secrets.advert(),
            })
            .collect()
    }

    /// The whole protocol: everyone shares; `dropped` never uploads its masked input.
    fn round(sites: &[Site], dropped: &[u8], threshold: usize) -> (Vec<u32>, Vec<Vec<u32>>) {
        let everyone = peers(sites);
        let n = sites.len();
        let sealed: Vec<SealedShare> = sites
            .iter()
            .flat_map(|s| {
                client::seal_shares(
                    &s.secrets,
                    s.x,
                    &everyone,
                    threshold,
                    &CTX,
                    &[s.x ^ 0x55; 32],
                )
                .unwrap()
            })
            .collect();
        let survivors: Vec<u8> = sites
            .iter()
            .map(|s| s.x)
            .filter(|x| !dropped.contains(x))
            .collect();
        let mut sum = vec![0u32; sites[0].input.len()];
        let mut stored = vec![];
        for s in sites.iter().filter(|s| survivors.contains(&s.x)) {
            let input: Vec<u32> = s.input.iter().map(|&v| fixed::encode(v, n)).collect();
            let masked = client::masked_input(&s.secrets, s.x, &everyone, &CTX, &input);
            server::add(&mut sum, &masked);
            stored.push(masked);
        }
        let mut reveals = vec![];
        for s in sites.iter().filter(|s| survivors.contains(&s.x)) {
            let mine: Vec<SealedShare> = sealed.iter().filter(|c| c.to == s.x).cloned().collect();
            for r in client::reveal(
                &s.secrets, s.x, &everyone, &mine, &survivors, threshold, &CTX,
            )
            .unwrap()
            {
                reveals.push((s.x, r));
            }
        }
        server::unmask(&mut sum, &everyone, &survivors, &reveals, threshold, &CTX).unwrap();
        (sum, stored)
    }

    #[test]
    fn four_participants_one_drops_after_sharing_and_the_sum_is_exact() {
        let sites = sites(4, 5000);
        let (sum, stored) = round(&sites, &[2], 3);
        let bound = fixed::sum_error_bound(3);
        for (i, &total) in sum.iter().enumerate() {
            let plain: f64 = sites.iter().filter(|s| s.x != 2).map(|s| s.input[i]).sum();
            let got = fixed::decode(total);
            assert!((got - plain).abs() <= bound, "value {i}: {got} vs {plain}");
        }
        // What the server stored of one participant looks uniform: no correlation with its
        // plaintext input.
        let plain: Vec<f64> = sites[0].input.clone();
        let masked: Vec<f64> = stored[0].iter().map(|&m| m as f64).collect();
        let r = correlation(&plain, &masked);
        assert!(r.abs() < 0.05, "correlation {r}");
    }

    #[test]
    fn nobody_drops_and_too_many_drop() {
        let sites = sites(5, 100);
        let (sum, _) = round(&sites, &[], 3);
        let plain: f64 = sites.iter().map(|s| s.input[10]).sum();
        assert!((fixed::decode(sum[10]) - plain).abs() <= fixed::sum_error_bound(5));
        let everyone = peers(&sites);
        assert_eq!(
            server::unmask(&mut [0u32; 4], &everyone, &[1, 2], &[], 3, &CTX),
            Err(SecAggError::Survivors),
            "two survivors of a 3-of-5 round cannot unmask"
        );
    }

    #[test]
    fn shares_for_another_round_or_altered_do_not_open() {
        let sites = sites(3, 10);
        let everyone = peers(&sites);
        let other = RoundContext { run: 7, round: 4 };
        let sealed =
            client::seal_shares(&sites[0].secrets, 1, &everyone, 2, &other, &[9; 32]).unwrap();
        let to_2: Vec<SealedShare> = sealed.iter().filter(|s| s.to == 2).cloned().collect();
        let err = client::reveal(&sites[1].secrets, 2, &everyone[..1], &to_2, &[1], 1, &CTX);
        assert!(err.is_err());
        let err =
            client::reveal(&sites[1].secrets, 2, &everyone, &to_2, &[1, 2], 2, &CTX).unwrap_err();
        assert_eq!(
            err,
            SecAggError::BadShare { from: 1 },
            "round 4's shares in round 3"
        );
        let mut altered = client::seal_shares(&sites[0].secrets, 1, &everyone, 2, &CTX, &[9; 32])
            .unwrap()
            .into_iter()
            .filter(|s| s.to == 2)
            .collect::<Vec<_>>();
        altered[0].ciphertext[5] ^= 1;
        let err = client::reveal(
            &sites[1].secrets,
            2,
            &everyone[..1],
            &altered,
            &[1],
            1,
            &CTX,
        );
        assert!(err.is_err());
    }

    #[test]
    fn a_lying_reveal_is_caught_for_a_dropped_key() {
        let sites = sites(4, 10);
        let everyone = peers(&sites);
        let reveals: Vec<(u8, Reveal)> = [1u8, 3, 4]
            .iter()
            .map(|&from| {
                (
                    from,
                    Reveal {
                        about: 2,
                        secret: Secret::MaskKey,
                        share: [from; 32],
                    },
                )
            })
            .chain([1u8, 3, 4].iter().flat_map(|&from| {
                [1u8, 3, 4].map(|about| {
                    (
                        from,
                        Reveal {
                            about,
                            secret: Secret::SelfMask,
                            share: [0; 32],
                        },
                    )
                })
            }))
            .collect();
        let err = server::unmask(&mut [0u32; 10], &everyone, &[1, 3, 4], &reveals, 3, &CTX);
        assert_eq!(err, Err(SecAggError::WrongKey { about: 2 }));
    }

    #[test]
    fn shares_and_reveals_travel_as_base64_json() {
        let share = SealedShare {
            from: 1,
            to: 2,
            ciphertext: vec![7; 80],
        };
        let json = serde_json::to_value(&share).unwrap();
        assert_eq!(json["ciphertext"].as_str().unwrap().len(), 108);
        assert_eq!(serde_json::from_value::<SealedShare>(json).unwrap(), share);
        let reveal = Reveal {
            about: 3,
            secret: Secret::MaskKey,
            share: [9; 32],
        };
        let json = serde_json::to_value(&reveal).unwrap();
        assert_eq!(json["secret"], "mask_key");
        assert_eq!(
            serde_json::from_value::<Reveal>(json.clone()).unwrap(),
            reveal
        );
        let mut short = json;
        short["share"] = serde_json::json!("AAAA");
        assert!(
            serde_json::from_value::<Reveal>(short).is_err(),
            "32 bytes or nothing"
        );
        assert!(
            !format!("{reveal:?}").contains("9, 9"),
            "a share never shows in Debug"
        );
    }

    fn correlation(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }
}

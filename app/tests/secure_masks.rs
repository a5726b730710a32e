//! The browser's mask stream for secure aggregation: in wasm it runs four ChaCha12 blocks at
//! once in SIMD128 lanes, a path native unit tests cannot reach. Run in headless Chromium by
//! wasm-bindgen-test (`cargo xtask test`).
#![cfg(target_arch = "wasm32")]

use meshfed_shared::secagg::stream;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_browser_masks_with_the_same_chacha12_words_as_the_cli() {
    // 100,003 words: 1,562 groups of four blocks, then two whole blocks and 3 words.
    assert_eq!(stream::known_answer_digest(), stream::KNOWN_ANSWER);
    let seed = [5u8; 32];
    let mut v: Vec<u32> = (0..1000).collect();
    stream::apply(&mut v, &seed, true);
    assert_ne!(v, (0..1000).collect::<Vec<u32>>());
    stream::apply(&mut v, &seed, false);
    assert_eq!(v, (0..1000).collect::<Vec<u32>>());
}

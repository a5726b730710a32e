//! Identity logic without I/O: input rules and password policy, TOTP, the BIP39 mnemonic and
//! JWTs. The Worker stores and sends; these decide.

pub mod codes;
pub mod common_passwords;
pub mod jwt;
pub mod mnemonic;
pub mod password;
pub mod qr;
pub mod rate_limit;
pub mod roles;
pub mod seal;
pub mod totp;
pub mod validation;

pub mod chart;
pub mod field;
pub mod layout;
pub mod loaded;
pub mod server_status;
pub mod slices;
pub mod submit;

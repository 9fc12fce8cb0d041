pub mod bench;
pub mod explain;
pub mod features;
pub mod model;
pub mod run;
pub mod score;
pub mod seed;
pub mod uscc;

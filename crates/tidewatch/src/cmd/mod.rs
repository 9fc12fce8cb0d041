pub mod explain;
pub mod features;
pub mod run;
pub mod seed;
pub mod uscc;

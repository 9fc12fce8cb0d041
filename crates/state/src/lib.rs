//! Entity state and features.
//!
//! [`EntityStore`] holds every market entity and the events applied to it
//! (duplicates detected, events for unregistered entities held). The feature
//! catalogue in [`features`] names every feature once; [`FeatureTable`]
//! computes all of them at an explicit as-of date, columnar. Pure: no I/O.

pub mod compute;
pub mod features;
pub mod live;
pub mod store;

pub use compute::{entity_row, flag_feature, FeatureTable, Row};
pub use features::{Dimension, Feature, FeatureDef, Unit, FEATURES, NULL, N_FEATURES};
pub use live::{LiveTable, RelationFact};
pub use store::{Applied, Entity, EntityId, EntityStore};

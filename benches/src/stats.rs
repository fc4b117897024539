//! Order statistics over one contender's rounds.

/// The `q`-quantile (0 ≤ q ≤ 1) of `values`, by linear interpolation.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let weight = position - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high] * weight
}

/// Median, quartiles and range of a sample.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub p25: f64,
    pub p75: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises `values`.
    pub fn of(values: &[f64]) -> Self {
        Self {
            median: quantile(values, 0.5),
            p25: quantile(values, 0.25),
            p75: quantile(values, 0.75),
            min: quantile(values, 0.0),
            max: quantile(values, 1.0),
        }
    }
}

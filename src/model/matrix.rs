//! The one conversion from polars feature columns to the model's `Array2<f64>`.
//! It applies each feature's transform and rejects nulls, NaN and infinities; it does not
//! standardize (that is the model's own scaling, stored in the model file).

use ndarray::{Array2, ArrayView1, ShapeBuilder};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::features::FeatureDef;

/// Builds the transformed (not yet standardized) matrix, one column per feature in `defs`
/// order, from the `f64` columns of `df`.
pub fn to_matrix(df: &DataFrame, defs: &[FeatureDef]) -> Result<Array2<f64>> {
    let mut x = Array2::<f64>::zeros((df.height(), defs.len()));
    for (j, def) in defs.iter().enumerate() {
        let column = df.column(&def.name)?.f64()?;
        for (i, v) in column.iter().enumerate() {
            let v = v
                .map(|v| def.transform.apply(v))
                .filter(|v| v.is_finite())
                .ok_or_else(|| Error::NonFinite {
                    feature: def.name.clone(),
                    row: i,
                })?;
            x[[i, j]] = v;
        }
    }
    Ok(x)
}

/// `x` with each column `j` standardized: `(x − mean[j]) / std[j]` (the training fit's
/// scaling, and a model file's at scoring).
pub fn standardize(x: &Array2<f64>, mean: &[f64], std: &[f64]) -> Array2<f64> {
    let mut z = Array2::zeros(x.raw_dim().f());
    for (j, (mut zc, xc)) in z.columns_mut().into_iter().zip(x.columns()).enumerate() {
        zc.zip_mut_with(&xc, |z, &v| *z = (v - mean[j]) / std[j]);
    }
    z
}

/// The churn probability of one standardized row: the logistic of `intercept + row · coef`
/// (summed in column order). Training's `predict` and a model file's scoring both call it, so
/// a fitted model and its file give the same probabilities.
pub fn logistic(row: ArrayView1<f64>, coef: impl IntoIterator<Item = f64>, intercept: f64) -> f64 {
    super::artifact::sigmoid(intercept + row.iter().zip(coef).map(|(v, w)| v * w).sum::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Transform;

    fn def(name: &str, transform: Transform) -> FeatureDef {
        FeatureDef {
            id: crate::features::catalog::FeatureId::Ratio(0),
            name: name.into(),
            meaning: String::new(),
            transform,
            family: name.into(),
            risky_when: crate::features::catalog::Direction::Either,
        }
    }

    #[test]
    fn applies_transforms_in_order() {
        let df = df!("a" => [0.0, 3.0], "b" => [std::f64::consts::E - 1.0, 0.0]).unwrap();
        let x = to_matrix(
            &df,
            &[def("b", Transform::Log1p), def("a", Transform::None)],
        )
        .unwrap();
        assert_eq!(x.shape(), &[2, 2]);
        assert!((x[[0, 0]] - 1.0).abs() < 1e-12);
        assert_eq!(x[[1, 1]], 3.0);
    }

    #[test]
    fn logistic_of_a_row() {
        let row = ndarray::array![1.0, -2.0];
        assert_eq!(logistic(row.view(), [0.0, 0.0], 0.0), 0.5);
        let p = logistic(row.view(), [0.5, 0.25], 0.3); // logit 0.3
        assert!((p - 1.0 / (1.0 + (-0.3f64).exp())).abs() < 1e-15);
    }

    #[test]
    fn rejects_null_and_nan() {
        let df = df!("a" => [Some(1.0), None]).unwrap();
        let err = to_matrix(&df, &[def("a", Transform::None)]).unwrap_err();
        assert!(matches!(err, Error::NonFinite { row: 1, .. }));
        let df = df!("a" => [f64::NAN]).unwrap();
        assert!(matches!(
            to_matrix(&df, &[def("a", Transform::None)]).unwrap_err(),
            Error::NonFinite { row: 0, .. }
        ));
    }
}

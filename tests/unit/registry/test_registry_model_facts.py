import mlflow
import pytest
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from registry.errors import UnsupportedModelError
from registry.model_facts import InputColumn, read_model_facts


def test_facts_come_from_mlmodel_signature_and_rayship_metadata(tmp_path):
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    mlflow.sklearn.save_model(
        model,
        tmp_path / "model",
        signature=infer_signature(features, model.predict(features)),
        pip_requirements=["scikit-learn"],
        metadata={"rayship": {"has_predict_proba": True, "classes": [0, 1, 2], "pyfunc_output": "labels"}},
    )
    facts = read_model_facts(tmp_path / "model")
    assert facts.flavor == "sklearn"
    assert facts.input_names == list(features.columns)
    assert facts.inputs[0] == InputColumn(name="sepal length (cm)", type="double")
    assert facts.has_predict_proba is True
    assert facts.classes == [0, 1, 2]
    assert facts.pyfunc_output == "labels"


def test_a_directory_without_mlmodel_is_refused(tmp_path):
    with pytest.raises(UnsupportedModelError) as info:
        read_model_facts(tmp_path)
    assert str(info.value) == f"Cannot serve the model in {tmp_path}: no MLmodel file"

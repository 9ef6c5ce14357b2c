"""InferenceConfig from Python: keywords, dicts, YAML files and text, the
to_dict() round trip, pickling (Ray ships configs to its workers), and the
C++ parser's messages for bad keys and values."""
import copy
import datetime
import pickle

import pytest

import inferloop


def test_keywords_are_parsed_like_a_yaml_file():
    config = inferloop.InferenceConfig(model_uri="m.ubj", num_replicas=3, spin_duration="20us",
                                       wait_strategy="block", output="margin")
    assert config.model_uri == "m.ubj"
    assert config.num_replicas == 3
    assert config.spin_duration == "20us"
    assert config.wait_strategy == "block"
    assert config.output == "margin"
    assert config.predictor_class_name == "XGBoostPredictor"  # the C++ default


def test_no_keywords_give_the_defaults_to_fill_in():
    config = inferloop.InferenceConfig()
    assert config.model_uri == ""
    config.model_uri = "m.ubj"
    config.startup_timeout = datetime.timedelta(milliseconds=1500)
    assert config.startup_timeout == "1500ms"
    config.interval = "250us"
    assert config.interval == "250us"
    config.validate()


def test_to_dict_round_trips_through_keywords_and_yaml(tmp_path):
    config = inferloop.InferenceConfig(model_uri="m.ubj", num_replicas=2, max_rows=4,
                                       spin_duration="1500ns", endpoints=["http://127.0.0.1:1"],
                                       deployment_name="btc")
    keys = config.to_dict()
    assert list(keys) == [k for k in inferloop.InferenceConfig.keys() if k in keys]
    assert inferloop.InferenceConfig(**keys).to_dict() == keys
    import yaml
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"inference_config": keys}))
    assert inferloop.InferenceConfig.from_yaml(path).to_dict() == keys


def test_a_dict_may_hold_the_config_under_inference_config():
    config = inferloop.InferenceConfig.from_dict({"inference_config": {"model_uri": "m.ubj",
                                                                       "num_replicas": 4}})
    assert config.num_replicas == 4


def test_timedelta_values_are_exact_durations():
    config = inferloop.InferenceConfig(model_uri="m.ubj",
                                       startup_timeout=datetime.timedelta(seconds=2, microseconds=5))
    assert config.startup_timeout == "2000005us"


def test_pickle_and_copy_keep_every_key():
    config = inferloop.InferenceConfig(model_uri="m.ubj", num_replicas=5, history_capacity=10)
    for clone in (pickle.loads(pickle.dumps(config)), copy.copy(config), copy.deepcopy(config)):
        assert clone.to_dict() == config.to_dict()
        assert clone is not config


def test_an_unknown_key_names_the_key_and_suggests_the_right_one():
    with pytest.raises(inferloop.Error, match=r"<dict>:\d+:\d+: num_replica.*did you mean 'num_replicas'"):
        inferloop.InferenceConfig(model_uri="m.ubj", num_replica=2)


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(inferloop.Error) as raised:
        inferloop.InferenceConfig(model_uri="m.ubj", num_replicas=0, spin_duration="5 parsecs")
    message = str(raised.value)
    assert "num_replicas" in message and "spin_duration" in message


def test_a_missing_model_uri_is_an_error():
    with pytest.raises(inferloop.Error, match="model_uri"):
        inferloop.InferenceConfig(num_replicas=2)


def test_a_yaml_file_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model_uri: m.ubj\nnum_replicas: many\n")
    with pytest.raises(inferloop.Error, match=r"bad\.yaml:2:\d+: num_replicas"):
        inferloop.InferenceConfig.from_yaml(path)


def test_wrong_property_types_are_type_errors():
    config = inferloop.InferenceConfig()
    with pytest.raises(TypeError):
        config.num_replicas = "two"
    with pytest.raises(TypeError, match="spin_duration"):
        config.spin_duration = 5
    with pytest.raises(inferloop.Error, match="duration"):
        config.spin_duration = "5"
    with pytest.raises(ValueError, match="spin, spin_then_block, block, interval, continuous"):
        config.wait_strategy = "sleepy"


def test_values_without_a_yaml_form_are_refused():
    with pytest.raises(TypeError, match="cannot use a object value"):
        inferloop.InferenceConfig(model_uri="m.ubj", device=object())
    with pytest.raises(TypeError, match="config"):
        inferloop.InferenceLoop(42)


def test_validate_reports_out_of_range_properties():
    config = inferloop.InferenceConfig(model_uri="m.ubj")
    config.num_replicas = 1000
    with pytest.raises(inferloop.Error, match="num_replicas"):
        config.validate()
    with pytest.raises(inferloop.Error, match="num_replicas"):
        inferloop.InferenceLoop(config)

"""The Python module against the command line (python/ocs_module.cpp, README "Python").

Run by ctest (python_module) as
  PYTHONPATH=build/python OCS_BINARY=build/ocs /usr/bin/python3 -m pytest python/tests
"""
import os
import pathlib
import subprocess

import numpy as np
import pytest

import ocs

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL_CNN = ROOT / "tests" / "data" / "small_cnn.onnx"
OCS = os.environ.get("OCS_BINARY", str(ROOT / "build" / "ocs"))


def cli(*args):
    """Runs the ocs CLI; returns (exit code, stderr)."""
    done = subprocess.run([OCS, *map(str, args)], capture_output=True, text=True)
    return done.returncode, done.stderr


@pytest.fixture(scope="module")
def calibration():
    rng = np.random.default_rng(7)
    return rng.uniform(0.0, 1.0, size=(40, 1, 28, 28)).astype(np.float32)


def quantize_with(tmp_path, name, data, **settings):
    out = tmp_path / f"{name}.onnx"
    report = ocs.quantize(str(SMALL_CNN), str(out), calibration=data, wbits=6, abits=8, ocs_ratio=0.05,
                          threads=1, **settings)
    return out.read_bytes(), report


def test_batches_from_a_generator_quantize_as_the_equivalent_npz(tmp_path, calibration):
    npz = tmp_path / "calib.npz"
    np.savez(npz, input=calibration)

    def batches():  # uneven batches, as a DataLoader's last one
        for start, stop in [(0, 7), (7, 20), (20, 40)]:
            yield {"input": calibration[start:stop]}

    from_npz, report_npz = quantize_with(tmp_path, "npz", str(npz))
    from_generator, report_gen = quantize_with(tmp_path, "generator", batches())
    from_dict, _ = quantize_with(tmp_path, "dict", {"input": calibration})
    from_pathlike, _ = quantize_with(tmp_path, "pathlike", npz)
    assert from_generator == from_npz
    assert from_dict == from_npz
    assert from_pathlike == from_npz
    assert report_gen["layers"] == report_npz["layers"]


def test_quantize_equals_the_cli(tmp_path, calibration):
    npz = tmp_path / "calib.npz"
    np.savez(npz, input=calibration)
    code, err = cli("quantize", SMALL_CNN, tmp_path / "cli.onnx", "--calib", npz, "--wbits", 6, "--abits", 8,
                    "--ocs-ratio", 0.05, "--threads", 1)
    assert code == 0, err
    from_module, report = quantize_with(tmp_path, "module", str(npz))
    assert from_module == (tmp_path / "cli.onnx").read_bytes()
    assert isinstance(report, dict) and report["layers"]


def test_session_run_equals_ocs_run(tmp_path, calibration):
    x = np.load(ROOT / "tests" / "data" / "small_cnn_input.npy")
    np.save(tmp_path / "x.npy", x)
    quantized = tmp_path / "q.onnx"
    ocs.quantize(str(SMALL_CNN), str(quantized), calibration={"input": calibration}, wbits=6, ocs_ratio=0.05)
    for model in (SMALL_CNN, quantized):
        code, err = cli("run", model, "--input", f"input={tmp_path / 'x.npy'}", "--threads", 1,
                        "--output-dir", tmp_path / model.stem)
        assert code == 0, err
        session = ocs.Session(str(model), threads=1)
        outputs = session.run({"input": x})
        assert list(outputs) == ["logits"]
        want = np.load(tmp_path / model.stem / "logits.npy")
        assert outputs["logits"].dtype == want.dtype and outputs["logits"].shape == want.shape
        assert np.array_equal(outputs["logits"], want)
    assert session.inputs == [{"name": "input", "dtype": "float32", "shape": (1, 1, 28, 28)}]
    assert not outputs["logits"].flags.writeable


def test_errors_raise_with_the_cli_messages(tmp_path):
    missing = tmp_path / "missing.onnx"
    code, err = cli("run", missing, "--input", "input=x.npy", "--output-dir", tmp_path / "o")
    assert code == 2
    message = err.strip().removeprefix("error: ")
    with pytest.raises(ValueError) as raised:
        ocs.Session(str(missing))
    assert str(raised.value) == message

    session = ocs.Session(str(SMALL_CNN))
    with pytest.raises(ValueError, match="the model has no input named 'image'; its inputs are: input"):
        session.run({"image": np.zeros((1, 1, 28, 28), np.float32)})
    with pytest.raises(ValueError, match="input 'input' must have shape"):
        session.run({"input": np.zeros((1, 3, 28, 28), np.float32)})
    # Options are named as this module spells them, never as command-line flags.
    with pytest.raises(ValueError, match=r"^wbits 1 is out of range") as raised:
        ocs.quantize(str(SMALL_CNN), str(tmp_path / "q.onnx"), wbits=1, abits=0)
    assert "--" not in str(raised.value)
    with pytest.raises(ValueError, match=r"^ocs_clip_on original .* per_channel") as raised:
        ocs.quantize(str(SMALL_CNN), str(tmp_path / "q.onnx"), abits=0, ocs_clip_on="original", per_channel=True)
    with pytest.raises(ValueError, match="already exists"):
        (tmp_path / "exists.onnx").write_bytes(b"")
        ocs.quantize(str(SMALL_CNN), str(tmp_path / "exists.onnx"), abits=0)
    with pytest.raises(ValueError, match="calibration batch 2"):
        ocs.quantize(str(SMALL_CNN), str(tmp_path / "b.onnx"),
                     calibration=iter([{"input": np.zeros((2, 1, 28, 28), np.float32)},
                                       {"input": np.zeros((2, 1, 27, 28), np.float32)}]))
    with pytest.raises(TypeError):
        ocs.quantize(str(SMALL_CNN), str(tmp_path / "c.onnx"), calibration=42)


def test_progress_callback_and_its_exceptions(tmp_path, calibration):
    seen = []
    ocs.quantize(str(SMALL_CNN), str(tmp_path / "p.onnx"), calibration={"input": calibration},
                 progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen and seen[-1][1] == seen[-1][2] == 40

    def stop(stage, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ocs.quantize(str(SMALL_CNN), str(tmp_path / "s.onnx"), calibration={"input": calibration}, progress=stop)
    assert not (tmp_path / "s.onnx").exists()


def test_inspect_and_evaluate(tmp_path, calibration):
    layers = ocs.inspect(str(SMALL_CNN))
    assert isinstance(layers, list) and layers and {"node", "op_type", "max_abs"} <= set(layers[0])
    code, err = cli("inspect", SMALL_CNN, "--json", tmp_path / "i.json")
    assert code == 0, err
    import json
    assert json.loads((tmp_path / "i.json").read_text())["layers"] == layers

    np.savez(tmp_path / "data.npz", input=calibration[:8])
    result = ocs.evaluate(str(SMALL_CNN), data=str(tmp_path / "data.npz"), reference=str(SMALL_CNN), threads=1)
    assert result["samples"] == 8
    assert result["top1_agreement"] == 1.0  # the model against itself


def test_docstrings():
    assert "calibration" in ocs.quantize.__doc__ and "ValueError" in ocs.quantize.__doc__
    assert "run" in ocs.Session.__doc__
    assert ocs.__version__

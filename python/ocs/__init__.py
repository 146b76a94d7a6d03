"""Post-training quantization with Outlier Channel Splitting (OCS) for ONNX models.

The `ocs` command line as a Python module (README.md, "Python"):

    import numpy as np, ocs
    def batches():                       # e.g. over a torch DataLoader
        for x, _ in loader:
            yield {"input": x.numpy()}
    report = ocs.quantize("float.onnx", "w6a8.onnx", calibration=batches(),
                          wbits=6, abits=8, ocs_ratio=0.02)
    session = ocs.Session("w6a8.onnx", threads=2)
    outputs = session.run({"input": np.zeros((1, 1, 28, 28), np.float32)})
    print(ocs.evaluate("w6a8.onnx", data="fashion-mnist:test")["top1"])

Bad models, settings or data raise ValueError, bugs RuntimeError, with the CLI's messages.
"""
from ._ocs import Session, __version__, evaluate, inspect, model_info, quantize

__all__ = ["Session", "evaluate", "inspect", "model_info", "quantize", "__version__"]

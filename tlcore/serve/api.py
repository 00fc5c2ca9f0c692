"""The service's routes: GET /health, GET /info and POST /predict for one saved run, with answers in
sentences for every request it cannot take. Inputs are read and decoded in worker threads; the
micro-batcher runs the model."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline  # /docs with its scripts from this machine, not a CDN
from starlette.exceptions import HTTPException

from ..core.device import inference_batch_size
from ..core.errors import TLCoreError
from ..core.settings import limits as current_limits
from ..engine.classifier import Classifier
from ..runs.archive import run_location
from ..runs.files import load_classifier
from .batcher import MicroBatcher
from .info import run_info
from .inputs import FORM, JSON, Refused, check_request, read_images, read_texts
from .schemas import Health, Info, Prediction, Predictions, Problem, Served, TextsRequest

ROUTES = "GET /health, GET /info and POST /predict"
REFUSALS = {400: "The body cannot be read.", 411: "The body's length is not stated.",
            413: "Too many or too large inputs.", 415: "Not the kind of input this run takes.",
            422: "No usable input in the request.", 503: "The model could not run (e.g. out of memory)."}


def create_app(run: str | Path, device: torch.device | None = None) -> FastAPI:
    """The service for a saved run, a folder or a run zip (RunLoadError, a TLCoreError, if it is not one),
    predicting on `device` (default: the CPU)."""
    folder = run_location(run)  # a zip is unpacked once, then read as a folder
    classifier = load_classifier(folder, device)
    limits = current_limits()
    info = run_info(folder, classifier, limits)
    batcher = MicroBatcher(classifier.proba, max_rows=inference_batch_size(classifier.device))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    classes = ", ".join(info.classes[:20]) + (", ..." if len(info.classes) > 20 else "")
    app = FastAPIOffline(title=f"{Path(run).name}: {info.task} classifier", lifespan=lifespan, redoc_url=None,
                         description=(
        f"Classifies {info.task}s into {len(info.classes)} classes ({classes}) with {info.backbone}. A request "
        f"holds at most {limits.max_request_items} {info.task}s; requests arriving together share a forward pass."))
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(HTTPException, in_a_sentence)

    @app.get("/health", response_model=Health, summary="Whether the service answers, and what it has served")
    async def health() -> Health:
        return Health(status="ok", served=Served(requests=batcher.requests, items=batcher.rows,
                                                 passes=batcher.passes))

    @app.get("/info", response_model=Info, summary="The run: classes, model, preprocessing, scores and limits")
    async def describe() -> Info:
        return info

    @app.post("/predict", response_model=Predictions, response_model_exclude_none=True,
              summary=f"Classify {info.task}s", description=predict_description(info.task),
              responses={status: {"model": Problem, "description": text} for status, text in REFUSALS.items()},
              openapi_extra={"requestBody": request_body(info.task)})
    async def predict(request: Request) -> Predictions:
        check_request(request, info.task, limits)
        if info.task == "image":
            raw, problems = await read_images(request, limits)
            names = [name for name, _ in raw]
        else:
            raw, problems = await read_texts(request, limits), {}
            names = raw
        return await predictions(classifier, batcher, raw, names, problems)

    return app


async def predictions(classifier: Classifier, batcher: MicroBatcher, raw: list, names: list[str],
                      problems: dict[int, str]) -> Predictions:
    """Predict the usable inputs; the others get their problem. Refused (422) when none is usable."""
    kept = [i for i in range(len(raw)) if i not in problems]
    inputs, unreadable = await asyncio.to_thread(classifier.adapter.encode_readable, [raw[i] for i in kept])
    problems = {**problems, **{kept[j]: reason for j, reason in unreadable.items()}}
    if len(problems) == len(raw):
        listed = " ".join(f"{names[i]}: {problems[i]}" for i in sorted(problems)[:3])
        more = f" And {len(problems) - 3} more." if len(problems) > 3 else ""
        raise Refused(422, f"No file in the request could be read. {listed}{more} Send images (JPEG, PNG, WebP, "
                           "BMP, GIF or TIFF) in the field 'files'.")
    try:
        proba = iter(await batcher.predict(inputs))
    except TLCoreError as exc:  # e.g. out of memory even one example at a time
        raise Refused(503, exc.user_message) from None
    answers = []
    for i, name in enumerate(names):
        if i in problems:
            answers.append(Prediction(name=name, problem=problems[i]))
            continue
        p = next(proba)
        answers.append(Prediction(name=name, label=classifier.classes[int(np.argmax(p))],
                                  probabilities={c: float(v) for c, v in zip(classifier.classes, p)}))
    return Predictions(predictions=answers)


def predict_description(task: str) -> str:
    if task == "image":
        return ("Upload one or more images as multipart/form-data, each in the field `files`. A file that "
                "cannot be read (not an image, too large, too many pixels) gets a `problem` instead of a "
                "prediction, and the others are still predicted; a request with no readable file is refused "
                "(422). JSON texts are refused (415): this run classifies images.")
    return ('Send JSON `{"texts": [...]}`; each prediction\'s `name` is its text. An empty text, a text over the '
            "length limit or an item that is not a string refuses the whole request. Images are refused (415): "
            "this run classifies texts.")


def request_body(task: str) -> dict:
    if task == "image":
        image = {"type": "string", "format": "binary"}  # a file: the API page offers a file picker for each
        files = {"type": "array", "items": image, "description": "The images, each as a file part."}
        schema = {"type": "object", "required": ["files"], "properties": {"files": files}}
        return {"required": True, "content": {FORM: {"schema": schema}}}
    return {"required": True, "content": {JSON: {"schema": TextsRequest.model_json_schema()}}}


async def refused(request: Request, exc: Refused) -> JSONResponse:
    return JSONResponse({"detail": exc.user_message}, status_code=exc.status)


async def in_a_sentence(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no such route, wrong method) in words that say what the service answers."""
    detail = exc.detail
    if exc.status_code == 404:
        detail = f"There is nothing at {request.url.path}. The service answers {ROUTES}; see /docs."
    elif exc.status_code == 405:
        detail = f"{request.url.path} does not take {request.method}. The service answers {ROUTES}; see /docs."
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

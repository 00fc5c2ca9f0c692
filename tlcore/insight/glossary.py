"""Plain-language explanations shown beside each insight view (hideable), for people who have never
trained a model. Texts that depend on the case (task, backbone, number of classes, trainable blocks)
are functions of it."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..backbones import BackboneInfo

AUC = ("**AUC** (area under the ROC curve) asks: if I pick one example of a class and one that is not, how often "
       "does the model give the real one the higher probability? 1.0 means always, 0.5 means it is guessing. "
       "It is computed from the model's probabilities, not its final answers: the answers throw away how sure "
       "the model was, and that is exactly what AUC measures.")
BASELINE = ("**Baseline**: the accuracy of a 'model' that always answers the most common class. A real model "
            "must beat it; on imbalanced data the baseline can look high. **95% interval**: the range the "
            "number would likely fall in with another validation set of the same size (bootstrap: we resample "
            "the validation examples 1,000 times). Wide intervals mean: too few examples to be sure.")
CONFUSION = ("**Confusion matrix**: each row is the true class, each column the model's answer. The diagonal holds "
             "the right answers; every other cell is a kind of mistake. **Click a cell** to see the examples in it. "
             "The **most confidently wrong** examples are the ones the model was surest about and still got wrong "
             "(highest loss); they often reveal mislabelled data or a class that needs more varied examples.")
THRESHOLD = ("With two classes the model gives each example a probability of being '{positive}'. The **threshold** "
             "decides from which probability on we call it '{positive}'. Lower it and the model finds more of "
             "them (higher recall) but raises more false alarms (lower precision); raise it and the opposite. "
             "The dot on each curve is where this threshold puts you. AUC does not change: it covers every threshold.")
SEPARATION = ("**Separation** (silhouette score, -1 to 1) measures the same in the full feature space: higher "
              "means each example sits closer to its own class than to the others.")
GRAD_CAM = ("The **heat map** (Grad-CAM) shows which parts of the image raised the score of the class shown. The "
            "image is drawn in grey under the colours: bright yellow areas mattered most, dark purple and black "
            "areas least (see the colour bar). If the model looks at the background instead of the object, it "
            "learned a shortcut: add photos with varied backgrounds.")
OCCLUSION = ("**Word importance**: each word is removed in turn and the text scored again. Green words pushed the "
             "model towards the class shown (removing them lowers its probability), red words pushed away.")
IMAGENET = ("Before any training, the backbone already recognises 1,000 everyday categories from ImageNet (the "
            "photos it was trained on). These are its own top guesses. Transfer learning starts from this "
            "knowledge and only teaches a new last layer (and, if you allow it, the top blocks).")
COMPARE = ("Runs side by side. The core lesson: **0 trainable blocks** uses the pretrained backbone as a fixed "
           "feature extractor (fast, needs few examples); each extra block lets training change more of the "
           "backbone (slower, more parameters, and it can overfit small data). Compare AUC and its interval "
           "before concluding that one run is better.")


def curves(num_classes: int) -> str:
    """The Curves view: the ROC and precision-recall curves with two classes; with more, one ROC curve
    per class (a precision-recall curve needs a single positive class, so none is drawn)."""
    if num_classes == 2:
        return ("The **ROC curve** shows every threshold at once: how many real positives are found (up) against "
                "how many negatives are wrongly flagged (right). The dashed diagonal is guessing. The "
                "**precision-recall curve** is the better read when the class you care about is rare.")
    return ("With more than two classes there is one **ROC curve** per class, that class against all the others: "
            "how many of its real examples are found (up) against how many others are wrongly given that class "
            "(right), over every threshold. The dashed diagonal is guessing, and the AUC is the average of the "
            "curves' areas. A precision-recall curve needs a single positive class, so it is drawn only for "
            "two classes.")


def embedding(task: str, backbone: BackboneInfo, trainable_blocks: int, feature_block: int | None = None) -> str:
    """The embedding map: what the dots are, what left and right show for this run, and where the
    features come from (pretrained on photos or on text, or a classic method with nothing pretrained)."""
    example = "image" if task == "image" else "text"
    common = (f"Each dot is a validation {example}, placed by the features the new layer learns from (squeezed "
              "from hundreds of numbers to two, so distances are approximate). Colour is the true class; a cross "
              "marks a mistake. When classes form separate clusters the new layer has an easy job. ")
    if backbone.classic:
        return common + (f"Here the features are {backbone.title}: a classic method that takes them straight from "
                         "the words, with no pretrained network and nothing to fine-tune, so both maps are the same "
                         "and only the new layer learns.")
    learned_on = "ImageNet (1.2 million labelled photos)" if task == "image" else "millions of sentences"
    if trainable_blocks == 0:
        return common + ("Left: the pretrained backbone. Right: after training. The backbone was frozen (0 trainable "
                         "blocks), so it cannot move the dots and both maps are the same: only the new layer learned. "
                         f"That is why it needs few examples: it reuses what it learned on {learned_on}.")
    return common + (f"Left: the backbone as pretrained on {learned_on}. Right: after fine-tuning its top "
                     f"{trainable_blocks} of {backbone.kept_blocks(feature_block)} blocks, which moved the dots as they learned "
                     "your classes; compare the separation under each map.")


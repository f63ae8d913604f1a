"""A Keras callback that shows HGQ training progress as one rich progress bar.

Besides the epoch count it shows what an HGQ user watches: the validation accuracy, the EBOPs
and the current β of the EBOPs term, so the accuracy/resource trade-off is visible while it forms.
When the output is not a terminal (a log file, a pipe), it prints one plain line per epoch instead,
because a redrawn bar is cut off there.
"""

from __future__ import annotations

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichProgress(keras.callbacks.Callback):
    """Show ``fit`` progress: epochs done, elapsed time and the last epoch's key numbers.

    Args:
        epochs: total number of epochs (the bar's length).
        console: where to draw (default: a new rich console on stdout).
        description: text in front of the bar.
    """

    def __init__(self, epochs: int, console: Console | None = None, description: str = "training") -> None:
        super().__init__()
        self.epochs = int(epochs)
        self.description = description
        self.console = console or Console()
        self.plain = not self.console.is_terminal
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[numbers]}"), console=self.console,
                                 transient=False)
        self.task = None

    def on_train_begin(self, logs=None) -> None:
        if self.plain:
            return
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=self.epochs, numbers="")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        parts = []
        if "accuracy" in logs:
            parts.append(f"acc {100 * logs['accuracy']:.1f} %")
        if "val_accuracy" in logs:
            parts.append(f"val acc {100 * logs['val_accuracy']:.1f} %")
        if "ebops" in logs:
            parts.append(f"EBOPs {logs['ebops']:,.0f}")
        if "beta" in logs:
            parts.append(f"β {logs['beta']:.1e}")
        if self.plain:
            self.console.print(f"{self.description} epoch {epoch + 1}/{self.epochs}  {'  '.join(parts)}",
                               soft_wrap=True, highlight=False)
            return
        self.progress.update(self.task, advance=1, numbers="  ".join(parts))

    def on_train_end(self, logs=None) -> None:
        if not self.plain:
            self.progress.stop()

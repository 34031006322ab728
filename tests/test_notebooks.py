"""The notebooks in notebooks/: committed without outputs, and each one runs top to bottom on the session's data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_the_three_notebooks():
    assert [path.name for path in NOTEBOOKS] == [
        "01_data_exploration.ipynb", "02_run_comparison.ipynb", "03_error_analysis.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_carries_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    dirty = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert not dirty, f"{path.name}: code cells {dirty} hold outputs; run `make strip-notebooks`"
    assert not any("papermill" in cell.metadata or "injected-parameters" in cell.metadata.get("tags", [])
                   for cell in notebook.cells), f"{path.name} is papermill output, not the source"
    assert "papermill" not in notebook.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_starts_with_a_parameters_cell_and_uses_the_project_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    second_code = [cell for cell in notebook.cells if cell.cell_type == "code"][1]
    assert "os.environ.get(" in second_code.source  # empty parameters fall back to the environment
    assert notebook.metadata["kernelspec"]["name"] == "drivelab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_papermill_reads_every_line_of_the_parameters_cell(path, capsys):
    from papermill.translators import PythonTranslator

    notebook = nbformat.read(path, as_version=4)
    cell = next(cell for cell in notebook.cells if cell.cell_type == "code")
    inferred = [parameter.name for parameter in PythonTranslator.inspect(cell)]
    assigned = [line.split("=", 1)[0].strip() for line in cell.source.splitlines() if "=" in line]
    assert inferred == assigned  # a line papermill cannot parse is dropped with "Unable to parse line ..."
    assert "Unable to parse" not in capsys.readouterr().out
    assert {"data_dir", "runs_dir", "run_dir", "dvc_repo"} & set(inferred)  # the documented -p parameters


def execute(path: Path, out_dir: Path, env: dict, parameters: dict | None = None) -> nbformat.NotebookNode:
    """Run a notebook with papermill from a folder other than notebooks/; any cell error fails the test."""
    import papermill

    output = out_dir / path.name
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, str(value))
        papermill.execute_notebook(str(path), str(output), parameters=parameters or {}, kernel_name="python3",
                                   cwd=str(out_dir), progress_bar=False, request_save_on_cell_execute=False)
    return nbformat.read(output, as_version=4)


def outputs_of(notebook: nbformat.NotebookNode, kind: str) -> list:
    """Every output payload of MIME type `kind` (or stream text for "stream")."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind == "stream" and output.output_type == "stream":
                found.append(output.text)
            elif kind in output.get("data", {}):
                found.append(output.data[kind])
    return found


@pytest.mark.slow
def test_data_exploration_notebook_shows_the_versions_health_and_scenes(sim_data_dir, tmp_path):
    notebook = execute(PROJECT_ROOT / "notebooks" / "01_data_exploration.ipynb", tmp_path,
                       {"DRIVELAB_DATA_DIR": sim_data_dir})
    text = "\n".join(outputs_of(notebook, "stream") + outputs_of(notebook, "text/plain"))
    assert str((sim_data_dir / "windows").resolve()) in text
    assert "speed_mps" in text and "lane_change_rate" in text
    assert len(outputs_of(notebook, "image/png")) >= 3  # distributions, sample scenes, lane changes
    assert len(outputs_of(notebook, "text/html")) >= 4  # tables


@pytest.mark.slow
def test_run_comparison_notebook_tables_every_run_sweep_and_dvc_experiment(runs_with_sweep, dvc_experiments_repo,
                                                                           tmp_path):
    notebook = execute(PROJECT_ROOT / "notebooks" / "02_run_comparison.ipynb", tmp_path,
                       {"DRIVELAB_RUNS_DIR": runs_with_sweep, "DRIVELAB_DVC_REPO": dvc_experiments_repo})
    html = "\n".join(outputs_of(notebook, "text/html"))
    assert "mlp" in html and "multirun/" in html and "ConstantAcceleration" in html
    assert "metrics.json:test.rmse_5s" in html and "fast" in html  # the DVC experiment
    assert "3 runs under" in "\n".join(outputs_of(notebook, "stream"))
    assert len(outputs_of(notebook, "image/png")) >= 2  # ranking, learning curves


@pytest.mark.slow
def test_error_analysis_notebook_takes_its_run_as_a_papermill_parameter(runs_with_sweep, sim_data_dir, tmp_path):
    run_dir = runs_with_sweep / "mlp"
    notebook = execute(PROJECT_ROOT / "notebooks" / "03_error_analysis.ipynb", tmp_path,
                       {"DRIVELAB_DATA_DIR": sim_data_dir}, parameters={"run_dir": str(run_dir), "worst": 4})
    text = "\n".join(outputs_of(notebook, "stream") + outputs_of(notebook, "text/plain"))
    assert f"run:  {run_dir.resolve()} (ResidualMLP" in text
    html = "\n".join(outputs_of(notebook, "text/html"))
    assert "lane_change" in html and "ConstantVelocity" in html and "dense" in html
    assert len(outputs_of(notebook, "image/png")) >= 4  # horizon, slices, bins, worst cases

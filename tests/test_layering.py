"""The folder layout is the architecture: commands on top, no circles, the data flow in one direction."""

from project_imports import all_modules, graph

MODULES = all_modules("drivelab")


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.add(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_library_never_imports_a_command():
    offenders = {module: sorted(name for name in imports if name.startswith("drivelab.commands"))
                 for module, imports in graph(MODULES).items() if not module.startswith("drivelab.commands")}
    assert not {module: names for module, names in offenders.items() if names}


def test_commands_do_not_import_each_other():
    edges = graph(m for m in MODULES if m.startswith("drivelab.commands."))
    assert not {module: sorted(n for n in names if n.startswith("drivelab.commands.")) for module, names in edges.items()
                if any(n.startswith("drivelab.commands.") for n in names)}


def test_no_module_imports_form_a_circle():
    assert _cycles(graph(MODULES)) == []


def test_models_take_the_batch_type_not_the_lightning_data_module():
    for module, names in graph(m for m in MODULES if m.startswith("drivelab.models.")).items():
        assert not any(name.endswith(".datamodule") for name in names), module

"""Sphinx configuration of the mmcontrast docs site (``bash tools/build_docs.sh``).

Markdown pages through myst-parser; the API reference is generated at build time from the
mmcontrast registries (every registered class) and the loss functions, with autodoc reading their
docstrings (Google style, through napoleon). CI builds with ``-W``: a warning fails the build.
"""
import os
import os.path as osp
import re
import sys

DOCS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(DOCS)
sys.path.insert(0, ROOT)

import mmcontrast  # noqa: E402

project = 'mmcontrast'
author = 'The mmcontrast Authors'
copyright = '2026, The mmcontrast Authors'
version = release = mmcontrast.__version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.napoleon',
    'sphinx.ext.mathjax',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
myst_heading_anchors = 3
# Links to repository files outside docs/ (configs/*/README.md, ...) are not documents of the
# site; myst leaves them as links to the file in the repository.
myst_url_schemes = ['http', 'https', 'mailto']

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'show-inheritance': True}
autoclass_content = 'both'
# torch-heavy signatures render slowly and add nothing the docstrings do not say.
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autosummary_generate = False

html_theme = 'alabaster'
html_title = f'mmcontrast {release}'
html_static_path = []
html_theme_options = {'description': 'Contrastive learning for UDA and pretraining on OpenMMLab 2.0'}

# ---------------------------------------------------------------------------------------------
# API reference: one page per registry, listing every class registered in the mmcontrast scope.
REGISTRIES = (
    ('models', 'MODELS', 'Models: detectors, segmentors, self-supervised algorithms, heads, necks, backbones, losses'),
    ('model_wrappers', 'MODEL_WRAPPERS', 'Model wrappers'),
    ('datasets', 'DATASETS', 'Datasets'),
    ('data_samplers', 'DATA_SAMPLERS', 'Data samplers'),
    ('transforms', 'TRANSFORMS', 'Data transforms'),
    ('hooks', 'HOOKS', 'Hooks'),
    ('loops', 'LOOPS', 'Loops'),
    ('optim_wrapper_constructors', 'OPTIM_WRAPPER_CONSTRUCTORS', 'Optimizer wrapper constructors'),
    ('metrics', 'METRICS', 'Metrics'),
)
GENERATED = osp.join(DOCS, 'api', 'generated')


def _write_if_changed(path, text):
    if osp.exists(path) and open(path).read() == text:
        return
    with open(path, 'w') as f:
        f.write(text)


def generate_api_pages(app=None):
    """Write docs/api/generated/*.rst from the registries (git-ignored, rebuilt every build)."""
    import mmcontrast.registry as reg
    from mmcontrast.models import losses

    os.makedirs(GENERATED, exist_ok=True)
    pages, documented = [], set()
    for page, attr, title in REGISTRIES:
        registry = getattr(reg, attr, None)
        if registry is None:
            continue
        registry.import_from_location()
        classes = sorted(registry.module_dict.items())
        if not classes:
            continue
        lines = [
            title, '=' * len(title), '',
            f"Registered in ``mmcontrast.registry.{attr}``; configs name them ``type='mmcontrast.<Name>'``.", ''
        ]
        for name, cls in classes:
            if name != cls.__name__:
                continue  # an alias of a class documented under its own name
            path = f'{cls.__module__}.{cls.__qualname__}'
            lines += [f'.. autoclass:: {path}']
            if path in documented:  # registered in two registries: document it once
                lines += ['   :no-index:']
            documented.add(path)
            lines += ['']
        _write_if_changed(osp.join(GENERATED, f'{page}.rst'), '\n'.join(lines))
        pages.append(page)

    title = 'Loss functions'
    funcs = [n for n in losses.__all__ if not n[0].isupper()]
    lines = [
        title, '=' * len(title), '',
        'The pure functions behind the registered loss modules (``mmcontrast.models.losses``); the modules '
        'are on the :doc:`models` page.', ''
    ]
    lines += [f'.. autofunction:: mmcontrast.models.losses.{n}\n' for n in funcs]
    _write_if_changed(osp.join(GENERATED, 'loss_functions.rst'), '\n'.join(lines))
    pages.append('loss_functions')

    index = ['Registered modules', '==================', '', '.. toctree::', '   :maxdepth: 1', '']
    index += [f'   {p}' for p in pages]
    _write_if_changed(osp.join(GENERATED, 'index.rst'), '\n'.join(index) + '\n')


def join_grouped_args(app, what, name, obj, options, lines):
    """Join an ``Args:`` entry that names several parameters over two lines.

    mmcontrast documents parameters shared with another function as one entry, e.g.
    ``q, k, queue, ...,`` wrapped before ``num_neg_prototypes, generator: As in ...``. napoleon
    reads the first line as a parameter without a description; joined, it renders as one entry.
    Runs before napoleon (priority 400 < 500).
    """
    i = 0
    while i < len(lines) - 1:
        line, nxt = lines[i], lines[i + 1]
        indent = len(line) - len(line.lstrip())
        if (line.rstrip().endswith(',') and ':' not in line and line.strip() and len(nxt) - len(nxt.lstrip()) > indent
                and ':' in nxt):
            lines[i] = line.rstrip() + ' ' + nxt.strip()
            del lines[i + 1]
        else:
            i += 1


LINK_REWRITES = {
    f'../configs/{d}/README.md': f'results/{d}.md'
    for d in ('uda_seg', 'uda_det', 'selfsup', 'ranked_supcon')
}


def rewrite_repo_links(app, docname, source):
    """Point links to the config READMEs at their pages under docs/results/ (which include them).

    On the index, also list any top-level page no toctree names yet (a page added to docs/
    without touching index.md) under "More", so it is reachable and -W does not fail on it.
    """
    if docname == 'index':
        listed = set(re.findall(r'^([\w/.-]+)$', source[0], re.M))
        pages = sorted(osp.splitext(f)[0] for f in os.listdir(DOCS) if f.endswith('.md'))
        extra = [p for p in pages if p != 'index' and p not in listed]
        if extra:
            source[0] += '\n```{toctree}\n:caption: More\n:maxdepth: 1\n\n' + '\n'.join(extra) + '\n```\n'
    if '/' in docname:
        return
    for old, new in LINK_REWRITES.items():
        source[0] = source[0].replace(f']({old}', f']({new}')


def unlink_repo_files(app, relative_path, parent_docname, content):
    """In the included config READMEs, links to config/tool files become their plain text.

    Those files are not pages of the site; the model zoo and the README tables name them anyway.
    """
    if str(relative_path).startswith('configs/') or 'configs/' in str(relative_path):
        content[0] = re.sub(r'\[([^\]]+)\]\((?!https?:)[^)\s]+\.(?:py|sh|yml|yaml)\)', r'\1', content[0])


def setup(app):
    app.connect('include-read', unlink_repo_files)
    app.connect('builder-inited', generate_api_pages)
    app.connect('autodoc-process-docstring', join_grouped_args, priority=400)
    app.connect('source-read', rewrite_repo_links)

"""This repository's CDK application of the ``shopper_sentiment`` library.

The constructs, their contracts and everything they read at synth live in
the installed library (``shopper_sentiment``); what is here is only how this
repository's ``app.py`` lays the library's stacks out for the deployments of
its config (``stacks.deployments``). A CDK app of your own does the same
with its own choices: see ``examples/``.
"""

"""Deployment: the command line (`llmcourse`), the HTTP service and the SavedModel export.

This room sits above the core package: it imports llmcourse's modules, and none of
them imports it. The HTTP service needs the optional dependencies of the "serve"
group (`pip install "llmcourse[serve]"`). Taught on the deployment page and in chapter 5.
"""

"""Options of the modules that validate a host's site variables with its vendor file (site_model, site_render)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  site:
    description:
      - The host's site variables (see README, "Site variables").
      - Default, the site variables of the task's host, collected on the controller by the action plugin.
    type: dict
  hostname:
    description: The inventory hostname, used in error messages and the model.
    type: str
    required: true
  inventory_dir:
    description: Directory that relative C(cloud_params_file) paths are relative to.
    type: str
    default: "."
"""

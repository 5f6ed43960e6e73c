from . import crm_invoicing_analysis

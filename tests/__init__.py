from . import test_crm_lead_number
from . import test_crm_probability_level
from . import test_crm_lead_amounts
from . import test_crm_lead_idle
from . import test_crm_lead_quotation
from . import test_crm_lead_closing
from . import test_security
from . import test_xmlrpc

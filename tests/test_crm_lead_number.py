from odoo.tests import tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestCrmLeadNumber(OpportunityCase):
    def test_number_given_at_creation_from_the_sequence(self):
        first, second = self.create_opportunity(), self.create_opportunity()
        self.assertTrue(first.number.startswith("OPP/"))
        self.assertNotEqual(first.number, second.number)
        counter = second.number.split("/")[2]
        self.assertEqual(int(counter), int(first.number.split("/")[2]) + 1)

    def test_number_is_not_copied(self):
        lead = self.create_opportunity()
        copy = lead.copy()
        self.assertTrue(copy.number)
        self.assertNotEqual(copy.number, lead.number)

    def test_number_is_read_only_and_kept_on_write(self):
        lead = self.create_opportunity()
        number = lead.number
        lead.write({"name": "Renamed"})
        self.assertEqual(lead.number, number)

    def test_search_by_number(self):
        lead = self.create_opportunity(name="Findable by number")
        Lead = self.env["crm.lead"]
        self.assertEqual(Lead.search([("number", "=", lead.number)]), lead)
        found = Lead.name_search(lead.number)
        self.assertEqual([lead_id for lead_id, _name in found], [lead.id])

    def test_existing_leads_numbered_at_install(self):
        """The post-init hook gave every lead that existed before the install a number."""
        self.assertFalse(self.env["crm.lead"].with_context(active_test=False).search_count([("number", "=", False)]))

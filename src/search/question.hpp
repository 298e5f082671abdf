// What of a question to search for: a question may carry instructions on the form of its
// answer ("Round your answer to two decimal places.", "Please provide a breakdown for each
// reporting period.") whose words are not what the answer's chunks hold; they are left out of
// the search (the chat model still reads the whole question).
#pragma once

#include <string>
#include <string_view>

namespace betterdev::search {

// `question` without its sentences and clauses about the answer's form: beside a sentence that
// asks (ends with '?'), a sentence opening with "Please", "Round", "Answer", "Express",
// "Respond", "Format", "Cite", "List this/them/it/each", "Give/Provide your answer", "Show your
// work", "Be concise/brief", "Keep it"; and anywhere a clause "round(ed) (your answer) to ...
// decimal places / significant digits / the nearest ...". What is left must hold a letter or
// digit; else the question is returned whole.
std::string SearchableQuestion(std::string_view question);

// `question` with the long form of each common business abbreviation it uses written beside it
// ("R&D" -> "R&D (research and development)"): reports mostly spell their line items out, and
// neither the keyword nor the vector leg can tell that "R&D" means them. Whole words only, case
// as listed ("R&D", "SG&A", "EPS", "PP&E", "FX", "COGS", "capex", ...); an abbreviation already
// followed by its long form is left as it is.
std::string WithLongForms(std::string_view question);

}  // namespace betterdev::search

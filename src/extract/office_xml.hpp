// Internal to extract/: the XML helpers that office.cpp and office_xlsx.cpp share. Only those
// two files include this header, so pugixml stays inside the office extractors.
#pragma once

#include <memory>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "extract/extractor.hpp"
#include "extract/office_zip.hpp"

namespace betterdev::extract::office {

// "w:p" -> "p": OOXML and ODF elements are matched by local name.
std::string_view Local(const pugi::xml_node& n);
// The first child element with that local name, or an empty node.
pugi::xml_node ChildByLocalName(const pugi::xml_node& node, std::string_view name);

// A parsed XML part; the tree points into `bytes` (parsed in place).
struct XmlPart {
  std::string bytes;
  pugi::xml_document doc;
};

// Reads and parses one part under the zip's limits; InvalidArgument "not a readable <kind>
// file: <part> is not well-formed XML (...)" for bad XML.
Result<std::unique_ptr<XmlPart>> ReadXml(OfficeZip& zip, const std::string& name);

// The numbered parts "<prefix>N.xml" ("ppt/slides/slide" -> slide1.xml, slide2.xml, ...), in
// number order.
std::vector<std::string> NumberedParts(const OfficeZip& zip, std::string_view prefix);

// The parts listed by the element `list` (sldIdLst, sheets) of `main_part`, in their order,
// through their r:id relationships in `rels` (targets relative to `base_dir`); `fallback`
// when that yields nothing usable.
std::vector<std::string> OrderedParts(OfficeZip& zip, const std::string& main_part, const std::string& rels,
                                      const std::string& base_dir, std::string_view list,
                                      std::vector<std::string> fallback);

// InvalidArgument "document has N pages; the limit is M" past limits.max_pages.
Status CheckPageCount(size_t count, const ExtractLimits& limits);

Status ExtractXlsx(OfficeZip& zip, const ExtractLimits& limits, PageSink& sink);  // office_xlsx.cpp

}  // namespace betterdev::extract::office
